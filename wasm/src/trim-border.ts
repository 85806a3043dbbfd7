/**
 * trim=border: the region inside a border of one colour. Like sharp's trim, the colour is the top-left pixel's
 * unless given, and an image that is all border is kept whole rather than trimmed to nothing.
 */
import { storedRectToOriented } from "./orient.ts";
import type { Orientation, Raster, Rect } from "./raster.ts";

export interface BorderTrimSpec {
  color?: [number, number, number, number];
  /** Cloudflare's scale: 0 any colour matches, 255 only the exact colour (allowed difference 255 − tolerance). */
  tolerance: number;
  /** Pixels of border left on each side. */
  keep: number;
}

/** The oriented region of `raster` (decoded at full size, stored orientation `o`) inside its border. */
export function findBorderRegion(raster: Raster, o: Orientation, spec: BorderTrimSpec): Rect {
  const { data, width, height, channels } = raster;
  const ref = spec.color ?? [data[0], data[1], data[2], channels === 4 ? data[3] : 255];
  const allowed = 255 - spec.tolerance;
  const isBorder = (x: number, y: number) => {
    const p = (y * width + x) * channels;
    if (Math.abs(data[p] - ref[0]) > allowed || Math.abs(data[p + 1] - ref[1]) > allowed || Math.abs(data[p + 2] - ref[2]) > allowed) return false;
    return channels === 3 ? ref[3] === 255 || 255 - ref[3] <= allowed : Math.abs(data[p + 3] - ref[3]) <= allowed;
  };
  const rowIsBorder = (y: number, from: number, to: number) => {
    for (let x = from; x < to; x++) if (!isBorder(x, y)) return false;
    return true;
  };
  const columnIsBorder = (x: number, from: number, to: number) => {
    for (let y = from; y < to; y++) if (!isBorder(x, y)) return false;
    return true;
  };
  let top = 0, bottom = height;
  while (top < bottom && rowIsBorder(top, 0, width)) top++;
  if (top === bottom) return storedRectToOriented({ left: 0, top: 0, width, height }, o, width, height);
  while (bottom > top && rowIsBorder(bottom - 1, 0, width)) bottom--;
  let left = 0, right = width;
  while (left < right && columnIsBorder(left, top, bottom)) left++;
  while (right > left && columnIsBorder(right - 1, top, bottom)) right--;
  const k = spec.keep;
  const stored = {
    left: Math.max(0, left - k),
    top: Math.max(0, top - k),
    width: Math.min(width, right + k) - Math.max(0, left - k),
    height: Math.min(height, bottom + k) - Math.max(0, top - k),
  };
  return storedRectToOriented(stored, o, width, height);
}
