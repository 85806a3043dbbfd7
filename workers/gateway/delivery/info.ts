import { orientedSize } from "../../../wasm/src/pixels.ts";
import { CONTENT_TYPES } from "../../../wasm/src/probe.ts";
import { planGeometry } from "../../shared/geometry.ts";
import type { Transform } from "../../shared/transform.ts";
import type { ImageEdgeState } from "./edge-state.ts";

/** Cloudflare's format=json answer: the output's size, and the original's size, bytes and media type. */
export interface ImageInfo {
  width: number;
  height: number;
  original: { file_size: number; width: number; height: number; format: string };
}

/**
 * The answer for `transform` of `image`, from the same geometry the render uses (so it names the size the image
 * would have, border and fit=pad canvas included). The original's size is as displayed, after EXIF orientation.
 */
export function imageInfo(image: Pick<ImageEdgeState, "width" | "height" | "orientation" | "format" | "bytes">, transform: Transform): ImageInfo {
  const oriented = orientedSize(image.width, image.height, image.orientation);
  const { output } = planGeometry(oriented, transform);
  return {
    width: output.width,
    height: output.height,
    original: { file_size: image.bytes ?? 0, width: oriented.width, height: oriented.height, format: CONTENT_TYPES[image.format] },
  };
}
