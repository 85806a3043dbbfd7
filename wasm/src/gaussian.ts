/**
 * Gaussian blur and unsharp mask on 8-bit rasters. Both are separable: rows first (one row at a time), then
 * columns in blocks of a few columns laid out so each pass walks memory in order. Past the edges the image is
 * mirrored, as libvips extends it for sharp's blur. Scratch is small and bounded whatever the image size;
 * `*ScratchBytes` say exactly what each allocates, for the planner.
 */
import type { Raster } from "./raster.ts";
import { SRGB_TO_LINEAR, lightnessOfLuminance, linearToSrgb, luminance, luminanceOfLightness } from "./colour-space.ts";

/** Up to this sigma the kernel is sampled and convolved directly (exact); above it three box blurs, O(1) a pixel. */
const EXACT_SIGMA = 3;
/** Floats in one column block (per buffer): enough columns to amortise each pass's start, 1 MB whatever the height. */
const BLOCK_FLOATS = 1 << 18;

/** One 1-D pass along `len` samples of `lanes` interleaved values, src to dst; samples past the ends repeat the edge. */
type Pass = (src: Float32Array, dst: Float32Array, len: number, lanes: number, acc: Float64Array) => void;

/** Index `j` of a row of `len` samples, mirrored past either end (…1 0 | 0 1 … | n−1 n−2 …), as libvips extends. */
function mirror(j: number, len: number): number {
  if (j >= 0 && j < len) return j;
  const m = ((j % (2 * len)) + 2 * len) % (2 * len);
  return m < len ? m : 2 * len - 1 - m;
}

/**
 * A running-sum box filter of radius r: the same cost for any r. Rows (few lanes) run lane by lane with the sum
 * in a register; column blocks (many lanes) run sample by sample with a sum per lane, so memory is read in order.
 */
function boxPass(r: number): Pass {
  const scale = 1 / (2 * r + 1);
  return (src, dst, len, lanes, acc) => {
    if (lanes <= 4) {
      for (let l = 0; l < lanes; l++) {
        let sum = 0;
        for (let j = -r; j <= r; j++) sum += src[mirror(j, len) * lanes + l];
        for (let i = 0, at = l; i < len; i++, at += lanes) {
          dst[at] = sum * scale;
          // Only where the window crosses an end are indices mirrored.
          const add = i + r + 1 < len ? at + (r + 1) * lanes : mirror(i + r + 1, len) * lanes + l;
          const sub = i - r >= 0 ? at - r * lanes : mirror(i - r, len) * lanes + l;
          sum += src[add] - src[sub];
        }
      }
      return;
    }
    acc.fill(0, 0, lanes);
    for (let j = -r; j <= r; j++) {
      const base = mirror(j, len) * lanes;
      for (let l = 0; l < lanes; l++) acc[l] += src[base + l];
    }
    for (let i = 0; i < len; i++) {
      const out = i * lanes, add = mirror(i + r + 1, len) * lanes, sub = mirror(i - r, len) * lanes;
      for (let l = 0; l < lanes; l++) {
        const sum = acc[l];
        dst[out + l] = sum * scale;
        acc[l] = sum + src[add + l] - src[sub + l];
      }
    }
  };
}

/** Direct convolution with a symmetric kernel of `weights.length` taps (odd, centred); lanes as in boxPass. */
function kernelPass(weights: Float32Array): Pass {
  const r = (weights.length - 1) / 2, taps = weights.length;
  return (src, dst, len, lanes, acc) => {
    if (lanes <= 4) {
      for (let l = 0; l < lanes; l++) {
        for (let i = 0; i < len; i++) {
          let sum = 0;
          if (i - r >= 0 && i + r < len) {
            for (let k = 0, at = (i - r) * lanes + l; k < taps; k++, at += lanes) sum += weights[k] * src[at];
          } else {
            for (let k = -r; k <= r; k++) sum += weights[k + r] * src[mirror(i + k, len) * lanes + l];
          }
          dst[i * lanes + l] = sum;
        }
      }
      return;
    }
    for (let i = 0; i < len; i++) {
      acc.fill(0, 0, lanes);
      for (let k = -r; k <= r; k++) {
        const base = mirror(i + k, len) * lanes, w = weights[k + r];
        for (let l = 0; l < lanes; l++) acc[l] += w * src[base + l];
      }
      const out = i * lanes;
      for (let l = 0; l < lanes; l++) dst[out + l] = acc[l];
    }
  };
}

/** exp(-x²/2σ²) sampled out to where it falls below `minAmplitude` of its peak, normalised to sum 1. */
export function gaussianKernel(sigma: number, minAmplitude: number): Float32Array {
  const r = Math.max(0, Math.floor(sigma * Math.sqrt(-2 * Math.log(minAmplitude))));
  const w = new Float32Array(2 * r + 1);
  let sum = 0;
  for (let x = -r; x <= r; x++) sum += w[x + r] = Math.exp((-x * x) / (2 * sigma * sigma));
  for (let i = 0; i < w.length; i++) w[i] /= sum;
  return w;
}

/**
 * Radii of three box blurs whose succession has variance σ² (Kutskir's widths: the nearest odd widths below and
 * above the ideal one, mixed so the variances add up to σ²).
 */
function boxRadii(sigma: number): number[] {
  const n = 3;
  const ideal = Math.sqrt((12 * sigma * sigma) / n + 1);
  let wl = Math.floor(ideal);
  if (wl % 2 === 0) wl--;
  const m = Math.round((12 * sigma * sigma - n * wl * wl - 4 * n * wl - 3 * n) / (-4 * wl - 4));
  return Array.from({ length: n }, (_, i) => ((i < m ? wl : wl + 2) - 1) / 2);
}

/** The passes a Gaussian of `sigma` is made of: the sampled kernel (to 3σ), or three boxes. */
function gaussianPasses(sigma: number): Pass[] {
  return sigma <= EXACT_SIGMA ? [kernelPass(gaussianKernel(sigma, Math.exp(-4.5)))] : boxRadii(sigma).map(boxPass);
}

/** Runs `passes` in turn, ping-ponging between a and b; returns the buffer holding the result. */
function runPasses(passes: Pass[], a: Float32Array, b: Float32Array, len: number, lanes: number, acc: Float64Array): Float32Array {
  let [src, dst] = [a, b];
  for (const pass of passes) {
    pass(src, dst, len, lanes, acc);
    [src, dst] = [dst, src];
  }
  return src;
}

/** Columns per block for a plane `height` tall with `lanes` values a pixel. */
const blockColumns = (width: number, height: number, lanes: number) => Math.max(1, Math.min(width, Math.floor(BLOCK_FLOATS / (height * lanes))));

/** Bytes of scratch gaussianBlur allocates besides its output (row buffers, two column blocks, accumulators). */
export function blurScratchBytes(width: number, height: number, channels: number): number {
  const block = blockColumns(width, height, channels) * height * channels;
  const lanes = Math.max(width, blockColumns(width, height, channels)) * channels;
  return 2 * 4 * width * channels + 2 * 4 * block + 8 * lanes;
}

/**
 * A new raster: `src` blurred by a Gaussian of standard deviation `sigma` pixels. RGBA is blurred premultiplied
 * (as sharp does), so the colour of transparent pixels never bleeds into the visible ones.
 */
export function gaussianBlur(src: Raster, sigma: number): Raster {
  const { width: w, height: h, channels: c } = src;
  const out = new Uint8Array(w * h * c);
  const passes = gaussianPasses(sigma);
  const k = blockColumns(w, h, c);
  const acc = new Float64Array(Math.max(w, k) * c);
  // Rows: each row through the passes, rounded once into the output.
  const rowA = new Float32Array(w * c), rowB = new Float32Array(w * c);
  for (let y = 0; y < h; y++) {
    const at = y * w * c;
    if (c === 4) {
      for (let i = 0; i < w * 4; i += 4) {
        const a = src.data[at + i + 3] / 255;
        rowA[i] = src.data[at + i] * a;
        rowA[i + 1] = src.data[at + i + 1] * a;
        rowA[i + 2] = src.data[at + i + 2] * a;
        rowA[i + 3] = src.data[at + i + 3];
      }
    } else {
      for (let i = 0; i < w * c; i++) rowA[i] = src.data[at + i];
    }
    const done = runPasses(passes, rowA, rowB, w, c, acc);
    for (let i = 0; i < w * c; i++) out[at + i] = done[i] + 0.5;
  }
  // Columns: a block of k columns gathered as [y][k·c], through the passes, written back in place.
  const blockA = new Float32Array(k * h * c), blockB = new Float32Array(k * h * c);
  for (let x0 = 0; x0 < w; x0 += k) {
    const cols = Math.min(k, w - x0), lanes = cols * c;
    for (let y = 0; y < h; y++) {
      const from = (y * w + x0) * c, to = y * lanes;
      for (let l = 0; l < lanes; l++) blockA[to + l] = out[from + l];
    }
    const done = runPasses(passes, blockA, blockB, h, lanes, acc);
    for (let y = 0; y < h; y++) {
      const to = (y * w + x0) * c, from = y * lanes;
      if (c === 4) {
        for (let l = 0; l < lanes; l += 4) {
          const a = done[from + l + 3], unpremultiply = a > 0 ? 255 / a : 0;
          out[to + l] = Math.min(255, done[from + l] * unpremultiply + 0.5);
          out[to + l + 1] = Math.min(255, done[from + l + 1] * unpremultiply + 0.5);
          out[to + l + 2] = Math.min(255, done[from + l + 2] * unpremultiply + 0.5);
          out[to + l + 3] = a + 0.5;
        }
      } else {
        for (let l = 0; l < lanes; l++) out[to + l] = done[from + l] + 0.5;
      }
    }
  }
  return { data: out, width: w, height: h, channels: c };
}

/**
 * libvips' sharpen parameters (sharp's `sharpen({ sigma, m1, m2, x1, y2, y3 })`): the blur's sigma, the gain on
 * flat (|ΔL*| ≤ x1) and on jagged areas, and the most L* the mask may add (y2) or take away (y3).
 */
export interface SharpenParameters {
  sigma: number;
  m1: number;
  m2: number;
  x1: number;
  y2: number;
  y3: number;
}

/** The mask libvips adds to L*: a gain of m1 within ±x1 of no difference, m2 beyond, clipped to [-y3, y2]. */
function sharpenCurve(d: number, p: SharpenParameters): number {
  const y = d < -p.x1 ? -p.x1 * p.m1 + (d + p.x1) * p.m2 : d < p.x1 ? d * p.m1 : p.x1 * p.m1 + (d - p.x1) * p.m2;
  return Math.min(p.y2, Math.max(-p.y3, y));
}

/** L* of an 8-bit sRGB pixel at `i` (Rec. 709 / sRGB primaries, D65). */
function lightnessAt(data: Uint8Array, i: number): number {
  return lightnessOfLuminance(luminance(SRGB_TO_LINEAR[data[i]], SRGB_TO_LINEAR[data[i + 1]], SRGB_TO_LINEAR[data[i + 2]]));
}

/** The sRGB value of a grey of lightness L*, a table over L* in tenths (0..100). */
const GREY_OF_LIGHTNESS = Float32Array.from({ length: 1001 }, (_, i) => linearToSrgb(luminanceOfLightness(i / 10)));
function greyOfLightness(l: number): number {
  const t = Math.min(1000, Math.max(0, l * 10)), i = Math.min(999, Math.floor(t));
  return GREY_OF_LIGHTNESS[i] + (GREY_OF_LIGHTNESS[i + 1] - GREY_OF_LIGHTNESS[i]) * (t - i);
}

/** Bytes of scratch unsharpMask allocates besides its output (the row-blurred L* plane, row and column buffers). */
export function sharpenScratchBytes(width: number, height: number): number {
  const k = blockColumns(width, height, 1);
  return 2 * width * height + 2 * 4 * width + 2 * 4 * k * height + 8 * Math.max(width, k);
}

/**
 * A new raster: `src` sharpened as libvips sharpens, on lightness only: L* minus L* blurred by a Gaussian of
 * `sigma` (cut where it falls below 20% of its peak, as vips_sharpen's mask is), through the gain curve, added to
 * L*. The change in L* becomes the change of a grey of that lightness, added to each of R, G, B (alpha untouched).
 */
export function unsharpMask(src: Raster, p: SharpenParameters): Raster {
  const { width: w, height: h, channels: c } = src;
  const out = new Uint8Array(src.data);
  const kernel = gaussianKernel(p.sigma, 0.2);
  if (kernel.length === 1) return { data: out, width: w, height: h, channels: c };
  const pass = [kernelPass(kernel)];
  const k = blockColumns(w, h, 1);
  const acc = new Float64Array(Math.max(w, k));
  // Rows: L* of each row blurred, kept as L*·600 in 16 bits (0.002 L* steps; L* ≤ 100).
  const rowBlurred = new Uint16Array(w * h);
  const rowA = new Float32Array(w), rowB = new Float32Array(w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) rowA[x] = lightnessAt(src.data, (y * w + x) * c);
    const done = runPasses(pass, rowA, rowB, w, 1, acc);
    for (let x = 0; x < w; x++) rowBlurred[y * w + x] = done[x] * 600 + 0.5;
  }
  const blockA = new Float32Array(k * h), blockB = new Float32Array(k * h);
  for (let x0 = 0; x0 < w; x0 += k) {
    const cols = Math.min(k, w - x0);
    for (let y = 0; y < h; y++) for (let j = 0; j < cols; j++) blockA[y * cols + j] = rowBlurred[y * w + x0 + j] / 600;
    const blurred = runPasses(pass, blockA, blockB, h, cols, acc);
    for (let y = 0; y < h; y++) {
      for (let j = 0; j < cols; j++) {
        const i = (y * w + x0 + j) * c;
        const l = lightnessAt(src.data, i);
        const mask = sharpenCurve(l - blurred[y * cols + j], p);
        if (mask === 0) continue;
        const delta = greyOfLightness(l + mask) - greyOfLightness(l);
        for (let ch = 0; ch < 3; ch++) out[i + ch] = Math.min(255, Math.max(0, src.data[i + ch] + delta + 0.5));
      }
    }
  }
  return { data: out, width: w, height: h, channels: c };
}
