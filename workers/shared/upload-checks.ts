import { CodecError } from "../../wasm/src/errors.ts";
import { probeImage, type ImageHeader } from "../../wasm/src/probe.ts";
import { animationOverLimit, readAnimation } from "../../wasm/src/animation/index.ts";
import { sanitiseSvg } from "../../wasm/src/svg-sanitise.ts";
import type { UploadLimits } from "./bindings.ts";
import type { Config } from "./config.ts";
import { ApiError, ErrorCode, fromCodecError } from "./errors.ts";

// The checks every upload passes from its header alone, before anything is decoded: the gateway runs them on a
// multipart file, the processor on the first bytes of a direct-to-R2 object.

/** Reads a file's header without decoding a pixel; a file that is no image we take is refused by name. */
export function probeUpload(bytes: Uint8Array): ImageHeader {
  try {
    return probeImage(bytes);
  } catch (error) {
    if (error instanceof CodecError) throw fromCodecError(error);
    throw error;
  }
}

/** The account's limits on an image's dimensions (MAX_SIDE, MAX_PIXELS). */
export function checkImageLimits(header: ImageHeader, { maxSide, maxPixels }: Pick<Config["limits"], "maxSide" | "maxPixels">): void {
  if (header.width > maxSide || header.height > maxSide) {
    throw new ApiError(413, ErrorCode.tooLarge, `image is ${header.width}×${header.height} px; the limit is ${maxSide} px a side (MAX_SIDE)`);
  }
  const megapixels = (header.width * header.height) / 1e6;
  if (header.width * header.height > maxPixels) {
    throw new ApiError(
      413,
      ErrorCode.tooLarge,
      `image is ${megapixels.toFixed(1)} megapixels; the limit is ${(maxPixels / 1e6).toFixed(0)} megapixels (MAX_PIXELS)`,
    );
  }
}

/**
 * An animated GIF or WebP over MAX_ANIMATION_PIXELS (all frames' area, summed) or MAX_ANIMATION_FRAMES is refused
 * (413 naming the limit), from the frame headers alone. `bytes` may be a prefix of the file (a direct upload's
 * first read): the frames it holds are a lower bound, and the engine checks the whole file again before decoding.
 */
export function checkAnimationLimits(bytes: Uint8Array, header: ImageHeader, limits: Pick<Config["limits"], "maxAnimationPixels" | "maxAnimationFrames">): void {
  if (!header.animated) return;
  let animation;
  try {
    animation = readAnimation(bytes, header.format);
  } catch (error) {
    if (error instanceof CodecError) throw fromCodecError(error);
    throw error;
  }
  const over = animation && animationOverLimit(animation, limits);
  if (over) throw new ApiError(413, ErrorCode.tooLarge, over);
}

/** Checks an uploaded file (its size and header) against its upload URL's own limits, naming the one it breaks. */
export function checkUploadLimits(size: number, header: ImageHeader, limits: UploadLimits): void {
  if (limits.maxBytes !== undefined && size > limits.maxBytes) throw overUploadUrlBytes(size, limits.maxBytes);
  if (limits.formats && !limits.formats.includes(header.format)) {
    throw new ApiError(415, ErrorCode.unsupportedFormat, `this upload URL takes ${limits.formats.join(", ")} (formats); the file is ${header.format}`);
  }
  const megapixels = (header.width * header.height) / 1e6;
  if (limits.maxMegapixels !== undefined && megapixels > limits.maxMegapixels) {
    throw new ApiError(
      413,
      ErrorCode.tooLarge,
      `image is ${megapixels.toFixed(1)} megapixels; this upload URL allows at most ${limits.maxMegapixels} (maxMegapixels)`,
    );
  }
}

export function overUploadUrlBytes(size: number, max: number): ApiError {
  return new ApiError(413, ErrorCode.tooLarge, `the upload is ${size} bytes; this upload URL allows at most ${max} bytes (maxBytes)`);
}

/**
 * What is stored of an upload: the bytes as they came, except an SVG, which is sanitised (svg-sanitise.ts: no
 * script, handler, external reference or foreignObject survives), bounded by MAX_SVG_BYTES, and probed again as
 * stored. Pure TypeScript, so the gateway runs it before anything reaches R2.
 */
export function storedOriginal(bytes: Uint8Array, header: ImageHeader, limits: Pick<Config["limits"], "maxSvgBytes">): { bytes: Uint8Array; header: ImageHeader } {
  if (header.format !== "svg") return { bytes, header };
  try {
    const sanitised = sanitiseSvg(bytes, { maxBytes: limits.maxSvgBytes });
    return { bytes: sanitised, header: probeImage(sanitised) };
  } catch (error) {
    if (error instanceof CodecError) throw fromCodecError(error);
    throw error;
  }
}
