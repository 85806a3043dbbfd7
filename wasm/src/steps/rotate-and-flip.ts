/** flip, then rotate (Cloudflare's order), on the resized content: one exact gather, the EXIF orientation it amounts to. */
import { orient, swapsAxes } from "../orient.ts";
import type { Orientation } from "../raster.ts";
import type { Flip, Rotation } from "../vocabulary.ts";
import type { Step } from "./step.ts";
import type { RenderTarget } from "../targets.ts";

// Flip then clockwise rotation as the EXIF orientation that displays the same (each checked by a pixel walk).
const VIEW: Record<Flip, Record<Rotation, Orientation>> = {
  none: { 0: 1, 90: 6, 180: 3, 270: 8 },
  h: { 0: 2, 90: 7, 180: 4, 270: 5 },
  v: { 0: 4, 90: 5, 180: 2, 270: 7 },
  hv: { 0: 3, 90: 8, 180: 1, 270: 6 },
};

/** The orientation that turns the (EXIF-oriented) image into what `flip` then `rotate` show. */
export function viewOrientation(rotate: Rotation = 0, flip: Flip = "none"): Orientation {
  return VIEW[flip][rotate];
}

/** Whether flip + rotate swap width and height (a quarter turn). */
export function viewSwapsAxes(rotate: Rotation = 0, flip: Flip = "none"): boolean {
  return swapsAxes(viewOrientation(rotate, flip));
}

export const rotateAndFlip: Step = {
  name: "rotate-and-flip",
  reusable: false,
  workBytes: (t, channels) => (viewOrientation(t.rotate, t.flip) === 1 ? 0 : t.width * t.height * channels),
  run(image, target) {
    return orient(image, viewOrientation(target.rotate, target.flip));
  },
};

/** The size of a target's content once flipped and rotated (what the steps after this one work on). */
export function viewedContentSize(t: Pick<RenderTarget, "width" | "height" | "rotate" | "flip">): { width: number; height: number } {
  return viewSwapsAxes(t.rotate, t.flip) ? { width: t.height, height: t.width } : { width: t.width, height: t.height };
}
