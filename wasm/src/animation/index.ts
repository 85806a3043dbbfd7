/**
 * Animated GIF and WebP: reading an animation's header (frame count, canvas) without decoding, the limits
 * checked from it, and the frames composed one at a time. The render of animated outputs is render.ts's.
 */
import { CodecError } from "../errors.ts";
import type { ImageFormat } from "../formats/index.ts";
import { walkGif } from "./gif-frames.ts";
import { walkWebp } from "./webp-frames.ts";
import type { AnimationHeader } from "./frames.ts";

export type { AnimationHeader, ComposedFrame } from "./frames.ts";

/** Cloudflare Images' limit on an animation: the area of all its frames, summed. */
export const DEFAULT_MAX_ANIMATION_PIXELS = 50_000_000;
/** Frames beyond this are refused whatever their size (each costs a decode, a resize and an encode per output). */
export const DEFAULT_MAX_ANIMATION_FRAMES = 1000;

export interface AnimationLimits {
  /** Summed area of all frames (each frame counts as the whole canvas: that is what is composed and resized). */
  maxAnimationPixels: number;
  maxAnimationFrames: number;
}

export const DEFAULT_ANIMATION_LIMITS: AnimationLimits = { maxAnimationPixels: DEFAULT_MAX_ANIMATION_PIXELS, maxAnimationFrames: DEFAULT_MAX_ANIMATION_FRAMES };

/**
 * The animation in `bytes` (as far as they go: a header prefix gives a lower bound on the frame count), or
 * undefined when it is a still (one frame) or not a format we animate.
 */
export function readAnimation(bytes: Uint8Array, format: ImageFormat): AnimationHeader | undefined {
  const header = format === "gif" ? walkGif(bytes).header : format === "webp" ? walkWebp(bytes)?.header : undefined;
  return header && header.frameCount > 1 ? header : undefined;
}

/** The limit an animation breaks, in words naming it; undefined when it is within both. */
export function animationOverLimit(a: AnimationHeader, limits: AnimationLimits): string | undefined {
  if (a.frameCount > limits.maxAnimationFrames) {
    return `the animation has ${a.frameCount} frames; the limit is ${limits.maxAnimationFrames} frames (MAX_ANIMATION_FRAMES)`;
  }
  const total = a.frameCount * a.width * a.height;
  if (total > limits.maxAnimationPixels) {
    const limit = limits.maxAnimationPixels;
    const inWords = limit >= 1e6 ? `${+(limit / 1e6).toFixed(1)} megapixels` : `${limit} pixels`;
    return `the animation's ${a.frameCount} frames of ${a.width}×${a.height} are ${limit >= 1e6 ? `${(total / 1e6).toFixed(1)} megapixels` : `${total} pixels`} in all; the limit is ${inWords} (MAX_ANIMATION_PIXELS)`;
  }
  return undefined;
}

/** Throws `limit` when the animation is over a limit: checked from the header, before any frame is decoded. */
export function checkAnimationLimits(a: AnimationHeader, limits: AnimationLimits): void {
  const over = animationOverLimit(a, limits);
  if (over) throw new CodecError("limit", over);
}
