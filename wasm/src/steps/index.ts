/**
 * A target's pipeline, in order: the engine runs these steps for every target, from the decoded source or from a
 * larger target's content (the cascade), then encodes. Order of operations follows Cloudflare Images.
 */
import { adjustColourStep } from "./adjust-colour.ts";
import { blur } from "./blur.ts";
import { border } from "./border.ts";
import { colourToSrgb } from "./colour.ts";
import { flatten } from "./flatten.ts";
import { pad } from "./pad.ts";
import { resize } from "./resize.ts";
import { rotateAndFlip } from "./rotate-and-flip.ts";
import { sharpen } from "./sharpen.ts";
import type { Step } from "./step.ts";

export type { Step, StepContext } from "./step.ts";

/**
 * Cloudflare's filters, on the output's pixels: after resize (as the Images binding chains `.transform({ width })`
 * then `.transform({ blur })`) and before padding, so the background is neither blurred nor recoloured. Animated
 * outputs run them on every frame (animation/render.ts).
 */
export const FILTER_STEPS: readonly Step[] = [blur, sharpen, adjustColourStep];

export const TARGET_STEPS: readonly Step[] = [resize, colourToSrgb, rotateAndFlip, ...FILTER_STEPS, pad, border, flatten];

/** How many steps, from the start, are reusable: the cascade shares the raster after them. */
export const REUSABLE_STEPS = TARGET_STEPS.findIndex((s) => !s.reusable);
if (REUSABLE_STEPS < 1 || TARGET_STEPS.slice(REUSABLE_STEPS).some((s) => s.reusable)) {
  throw new Error("TARGET_STEPS: reusable steps (at least resize) must come first");
}
