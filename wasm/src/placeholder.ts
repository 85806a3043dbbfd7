/**
 * An image's placeholder (our extension of the Image object): a ThumbHash (evanw/thumbhash, base64) and a
 * dominant colour (`#rrggbb`), for a page to show before the image arrives. Made during the eager render from the
 * smallest raster of the whole picture the cascade already has (engine.ts), shrunk to at most 100×100 — never a
 * decode of its own.
 *
 * The dominant colour is the mean of the thumbnail in linear light, weighted by alpha, converted back to sRGB:
 * averaging sRGB values would darken it (mixing black and white gives #bcbcbc in light, #808080 in sRGB), and a
 * mean, unlike the most common colour bucket, does not jump between two near-equal buckets when the image
 * changes slightly. A solid colour comes out exactly as it went in.
 */
import { rgbaToThumbHash } from "thumbhash";
import type { EngineModules } from "./modules.ts";
import type { Orientation, Raster, Rect } from "./raster.ts";
import { toRgba } from "./pixels.ts";
import { resizeOriented } from "./steps/resize.ts";

/** ThumbHash encodes at most 100×100 pixels. */
export const PLACEHOLDER_MAX_SIDE = 100;

export interface Placeholder {
  /** The ThumbHash, base64 (standard alphabet, padded). */
  thumbhash: string;
  /** `#rrggbb`, lowercase. */
  dominantColor: string;
}

/** The thumbnail's size: the picture's aspect within 100×100, never larger than the picture. */
export function placeholderSize(width: number, height: number): { width: number; height: number } {
  const scale = Math.min(1, PLACEHOLDER_MAX_SIDE / width, PLACEHOLDER_MAX_SIDE / height);
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/**
 * The placeholder of the oriented `crop` of `raster` (in stored orientation `orientation`), which shows the whole
 * picture, oriented `picture` pixels large: the thumbnail takes the picture's aspect even where the raster was
 * stretched to another (a squeezed variant).
 */
export async function placeholderOf(raster: Raster, orientation: Orientation, crop: Rect, picture: { width: number; height: number }, modules: EngineModules): Promise<Placeholder> {
  const size = placeholderSize(picture.width, picture.height);
  // A raster that already is the whole picture at thumbnail size (a small variant) is taken as it is.
  const asIs = orientation === 1 && crop.left === 0 && crop.top === 0 && raster.width === crop.width && raster.height === crop.height &&
    size.width === crop.width && size.height === crop.height;
  const small = asIs ? raster : await resizeOriented(raster, orientation, size.width, size.height, crop, modules);
  const rgba = toRgba(small);
  return { thumbhash: base64(rgbaToThumbHash(small.width, small.height, rgba)), dominantColor: dominantColor(rgba) };
}

/** The alpha-weighted mean of RGBA pixels in linear light, as `#rrggbb` (plain mean when all are transparent). */
export function dominantColor(rgba: Uint8Array): string {
  const sums = [0, 0, 0];
  let weight = 0;
  for (let i = 0; i < rgba.length; i += 4) {
    const a = rgba[i + 3];
    for (let c = 0; c < 3; c++) sums[c] += a * LINEAR[rgba[i + c]];
    weight += a;
  }
  if (weight === 0) {
    for (let i = 0; i < rgba.length; i += 4) for (let c = 0; c < 3; c++) sums[c] += LINEAR[rgba[i + c]];
    weight = rgba.length / 4;
  }
  return `#${sums.map((s) => toSrgb8(s / weight).toString(16).padStart(2, "0")).join("")}`;
}

/** sRGB 8-bit value → linear light (IEC 61966-2-1). */
const LINEAR = Float64Array.from({ length: 256 }, (_, v) => {
  const c = v / 255;
  return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
});

function toSrgb8(linear: number): number {
  const c = linear <= 0.0031308 ? linear * 12.92 : 1.055 * linear ** (1 / 2.4) - 0.055;
  return Math.max(0, Math.min(255, Math.round(c * 255)));
}

function base64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}
