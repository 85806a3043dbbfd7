/**
 * blur: a Gaussian over the resized (and rotated) content. Cloudflare gives a radius r (1–250); the Gaussian's
 * sigma is 1 + r/2, the relation sharp documents for its blur(sigma), so blur=1 is a slight blur (σ 1.5) and
 * blur=250 is σ 126.
 */
import { blurScratchBytes, gaussianBlur } from "../gaussian.ts";
import { FILTERS } from "../vocabulary.ts";
import { viewedContentSize } from "./rotate-and-flip.ts";
import type { Step } from "./step.ts";

/** The Gaussian's standard deviation, in output pixels, for Cloudflare's blur radius. */
export function blurSigma(radius: number): number {
  return 1 + radius / 2;
}

const radiusOf = (t: { filters?: { blur: number } }) => t.filters?.blur ?? FILTERS.blur.none;

export const blur: Step = {
  name: "blur",
  reusable: false,
  workBytes(target, channels) {
    if (radiusOf(target) === FILTERS.blur.none) return 0;
    const { width, height } = viewedContentSize(target);
    return width * height * channels + blurScratchBytes(width, height, channels);
  },
  run(image, target) {
    const radius = radiusOf(target);
    if (radius === FILTERS.blur.none) return image;
    return gaussianBlur(image, blurSigma(radius));
  },
};
