/**
 * gravity=auto: where a crop of a fixed size shows the most of what a viewer looks at. Scored like libvips'
 * smartcrop `attention` strategy (what sharp's `position: "attention"` runs): luminance detail (edges), skin tones
 * and strong saturation, each 0..255 per pixel, summed. libvips centres the crop on the hottest pixel of the
 * blurred sum; we slide the crop's window over the score (summed-area tables: O(pixels) for every position) and
 * take the window holding the most, then centre it on the score's centroid inside it, so a subject smaller than
 * the window sits in its middle instead of against its edge.
 *
 * Runs on a small analysis raster (at most ANALYSIS_MAX_SIDE on the longer side) made from the decoded source
 * before any target is resized; the window found is mapped back to the full-resolution oriented source.
 */
import type { EngineModules } from "./modules.ts";
import type { Orientation, Raster, Rect } from "./raster.ts";
import { orientedSize } from "./pixels.ts";
import { resizeOriented } from "./steps/resize.ts";

/** The analysis raster's longer side: enough to place a crop within half a percent of the picture. */
export const ANALYSIS_MAX_SIDE = 256;

/** The analysis raster's size for an oriented picture of `width × height` (never larger than it). */
export function analysisSize(width: number, height: number): { width: number; height: number } {
  const scale = Math.min(1, ANALYSIS_MAX_SIDE / Math.max(width, height));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/** Bytes the analysis holds besides the resize that makes its raster: the raster, the score, three summed-area tables. */
export function analysisBytes(width: number, height: number, channels: 3 | 4): number {
  return width * height * (channels + 4) + 3 * 8 * (width + 1) * (height + 1);
}

/**
 * The analysis raster: the whole oriented picture of `source` (a stored-orientation raster, possibly DCT-scaled),
 * shrunk to analysisSize.
 */
export async function analysisRaster(source: Raster, orientation: Orientation, oriented: { width: number; height: number }, modules: EngineModules): Promise<Raster> {
  const size = analysisSize(oriented.width, oriented.height);
  return resizeOriented(source, orientation, size.width, size.height, { left: 0, top: 0, width: oriented.width, height: oriented.height }, modules);
}

// libvips' smartcrop thresholds, in 0..255 units: Laplacian responses below EDGE_FLOOR are compression noise, not
// detail; skin is a colour direction (libvips' skin vector) within SKIN_REACH of it, at a lightness that is
// neither black nor white; saturation counts only from SATURATION_FLOOR up, so a tinted background scores nothing.
const SKIN = normalise([0.78, 0.57, 0.44]);
const SKIN_REACH = 0.2;
const SKIN_LUMA = [30, 240] as const;
const EDGE_FLOOR = 8;
const SATURATION_FLOOR = 48;

function normalise(v: number[]): number[] {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

/** Each pixel's attention score (edges + skin + saturation, weighted by alpha), row-major. */
export function attentionScores(image: Raster): Float32Array {
  const { width: w, height: h, channels: c, data } = image;
  const luma = new Float32Array(w * h);
  for (let i = 0, p = 0; i < luma.length; i++, p += c) luma[i] = 0.299 * data[p] + 0.587 * data[p + 1] + 0.114 * data[p + 2];
  const score = new Float32Array(w * h);
  for (let y = 0; y < h; y++) {
    const up = (y > 0 ? y - 1 : y) * w, row = y * w, down = (y < h - 1 ? y + 1 : y) * w;
    for (let x = 0; x < w; x++) {
      const left = x > 0 ? x - 1 : x, right = x < w - 1 ? x + 1 : x;
      const i = row + x, p = i * c;
      const y0 = luma[i];
      const laplacian = Math.abs(4 * y0 - luma[row + left] - luma[row + right] - luma[up + x] - luma[down + x]);
      const edge = Math.min(255, Math.max(0, laplacian - EDGE_FLOOR));
      const r = data[p], g = data[p + 1], b = data[p + 2];
      let skin = 0;
      const norm = Math.hypot(r, g, b);
      if (norm > 0 && y0 >= SKIN_LUMA[0] && y0 <= SKIN_LUMA[1]) {
        const d = Math.hypot(r / norm - SKIN[0], g / norm - SKIN[1], b / norm - SKIN[2]);
        skin = Math.max(0, 1 - d / SKIN_REACH) * 255;
      }
      const chroma = Math.max(r, g, b) - Math.min(r, g, b);
      const saturation = Math.max(0, chroma - SATURATION_FLOOR) * (255 / (255 - SATURATION_FLOOR));
      const alpha = c === 4 ? data[p + 3] / 255 : 1;
      score[i] = (edge + skin + saturation) * alpha;
    }
  }
  return score;
}

/** A summed-area table of `values` (w × h): (w+1) × (h+1), entry (x, y) the sum of everything above and left of it. */
function summedArea(w: number, h: number, value: (i: number, x: number, y: number) => number): Float64Array {
  const table = new Float64Array((w + 1) * (h + 1));
  for (let y = 0; y < h; y++) {
    let rowSum = 0;
    for (let x = 0; x < w; x++) {
      rowSum += value(y * w + x, x, y);
      table[(y + 1) * (w + 1) + x + 1] = table[y * (w + 1) + x + 1] + rowSum;
    }
  }
  return table;
}

/**
 * The `ww × wh` window of a `w × h` score with the most attention, inside `bounds` (default the whole score),
 * re-centred on the attention it holds (kept when that loses no more than a twentieth of it). Ties keep the
 * window nearest the centre of the bounds, so a picture with nothing salient crops like gravity=center.
 */
export function attentionWindow(
  score: Float32Array, w: number, h: number, ww: number, wh: number, bounds: Rect = { left: 0, top: 0, width: w, height: h },
): { left: number; top: number } {
  ww = Math.min(bounds.width, Math.max(1, ww));
  wh = Math.min(bounds.height, Math.max(1, wh));
  const sum = summedArea(w, h, (i) => score[i]);
  const sumX = summedArea(w, h, (i, x) => score[i] * x);
  const sumY = summedArea(w, h, (i, _x, y) => score[i] * y);
  const stride = w + 1;
  const box = (t: Float64Array, left: number, top: number) =>
    t[(top + wh) * stride + left + ww] - t[top * stride + left + ww] - t[(top + wh) * stride + left] + t[top * stride + left];
  const [minLeft, maxLeft] = [bounds.left, bounds.left + bounds.width - ww];
  const [minTop, maxTop] = [bounds.top, bounds.top + bounds.height - wh];
  const centreLeft = Math.round((minLeft + maxLeft) / 2), centreTop = Math.round((minTop + maxTop) / 2);
  let best = { left: centreLeft, top: centreTop, total: box(sum, centreLeft, centreTop), off: 0 };
  for (let top = minTop; top <= maxTop; top++) {
    for (let left = minLeft; left <= maxLeft; left++) {
      const total = box(sum, left, top);
      if (total < best.total) continue;
      const off = Math.hypot(left - centreLeft, top - centreTop);
      if (total > best.total || off < best.off) best = { left, top, total, off };
    }
  }
  if (best.total <= 0) return { left: best.left, top: best.top };
  const cx = box(sumX, best.left, best.top) / best.total, cy = box(sumY, best.left, best.top) / best.total;
  const left = Math.round(Math.min(maxLeft, Math.max(minLeft, cx + 0.5 - ww / 2)));
  const top = Math.round(Math.min(maxTop, Math.max(minTop, cy + 0.5 - wh / 2)));
  return box(sum, left, top) >= 0.95 * best.total ? { left, top } : { left: best.left, top: best.top };
}

/** Places crops of a given size inside a region, both in oriented full-resolution pixels. */
export type AttentionPlacer = (size: { width: number; height: number }, within: Rect) => Rect;

/**
 * The placer of attention crops in `picture` (a stored-orientation raster showing the whole oriented picture of
 * `oriented` full-resolution pixels): one analysis, then any number of crops placed from it.
 */
export async function attentionPlacer(
  picture: Raster, orientation: Orientation, oriented: { width: number; height: number }, modules: EngineModules,
): Promise<AttentionPlacer> {
  const analysis = await analysisRaster(picture, orientation, orientedSize(picture.width, picture.height, orientation), modules);
  const scores = attentionScores(analysis);
  return (size, within) => placeAttentionCrop(scores, analysis, oriented, size, within);
}

/**
 * Places a crop of `size` inside `within` (oriented full-resolution pixels) on the most salient part of a picture
 * of `oriented` size, from its analysis raster's scores.
 */
export function placeAttentionCrop(
  scores: Float32Array, analysis: { width: number; height: number }, oriented: { width: number; height: number },
  size: { width: number; height: number }, within: Rect,
): Rect {
  const fx = analysis.width / oriented.width, fy = analysis.height / oriented.height;
  // The bounds in analysis pixels: the analysis pixels wholly inside `within` (at least one).
  const left = Math.min(analysis.width - 1, Math.ceil(within.left * fx)), top = Math.min(analysis.height - 1, Math.ceil(within.top * fy));
  const right = Math.max(left + 1, Math.floor((within.left + within.width) * fx)), bottom = Math.max(top + 1, Math.floor((within.top + within.height) * fy));
  const bounds = { left, top, width: right - left, height: bottom - top };
  const at = attentionWindow(scores, analysis.width, analysis.height, Math.round(size.width * fx), Math.round(size.height * fy), bounds);
  // Back in full-resolution pixels, kept inside `within` whatever the analysis' rounding.
  const clamp = (v: number, lo: number, hi: number) => Math.round(Math.min(hi, Math.max(lo, v)));
  return {
    left: clamp(at.left / fx, within.left, within.left + within.width - size.width),
    top: clamp(at.top / fy, within.top, within.top + within.height - size.height),
    width: size.width,
    height: size.height,
  };
}
