/**
 * sharpen: an unsharp mask on lightness, libvips' (sharp's sharpen). Cloudflare's strength s (0–10) is the mask's
 * gain over a σ = 1 blur: sharpen=s is sharp's sharpen({ sigma: 1, m1: s, m2: 2s }), so sharpen=1 (Cloudflare's
 * advice for downscaled images) is sharp's default sharpening, and the change stays within +10/−20 L* at any s.
 */
import { sharpenScratchBytes, unsharpMask, type SharpenParameters } from "../gaussian.ts";
import { FILTERS } from "../vocabulary.ts";
import { viewedContentSize } from "./rotate-and-flip.ts";
import type { Step } from "./step.ts";

/** libvips' sharpen parameters for Cloudflare's strength. */
export function sharpenParameters(strength: number): SharpenParameters {
  return { sigma: 1, m1: strength, m2: 2 * strength, x1: 2, y2: 10, y3: 20 };
}

const strengthOf = (t: { filters?: { sharpen: number } }) => t.filters?.sharpen ?? FILTERS.sharpen.none;

export const sharpen: Step = {
  name: "sharpen",
  reusable: false,
  workBytes(target, channels) {
    if (strengthOf(target) === FILTERS.sharpen.none) return 0;
    const { width, height } = viewedContentSize(target);
    return width * height * channels + sharpenScratchBytes(width, height);
  },
  run(image, target) {
    const strength = strengthOf(target);
    if (strength === FILTERS.sharpen.none) return image;
    return unsharpMask(image, sharpenParameters(strength));
  },
};
