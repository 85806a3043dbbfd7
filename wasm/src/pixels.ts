/**
 * Pixel operations in plain TypeScript: the engine's resampler when our SIMD resize kernel (resize.wasm) is not
 * provided, and channel conversions around the jSquash codecs. (Orient, pad and flatten live in orient.ts and
 * canvas.ts, shared with the kernel path.)
 *
 * Resampling follows what sharp/libvips do by default so outputs compare closely: sRGB (not linear light),
 * premultiplied alpha, an integer box pre-shrink for large ratios, then a separable Lanczos3 with an 8-bit
 * intermediate between the horizontal and the vertical pass (memory: one `dstWidth × cropHeight` buffer).
 */
import type { Orientation, Raster, Rect } from "./raster.ts";

/** Width and height after applying an EXIF orientation to a `width × height` image. */
export function orientedSize(width: number, height: number, o: Orientation): { width: number; height: number } {
  return o >= 5 ? { width: height, height: width } : { width, height };
}

/** RGB → RGBA (opaque), as the jSquash encoders take ImageData-shaped input. */
export function toRgba(src: Raster): Uint8Array {
  if (src.channels === 4) return src.data;
  const n = src.width * src.height;
  const out = new Uint8Array(n * 4);
  const d = src.data;
  for (let p = 0, i = 0, o = 0; p < n; p++, i += 3, o += 4) {
    out[o] = d[i]; out[o + 1] = d[i + 1]; out[o + 2] = d[i + 2]; out[o + 3] = 255;
  }
  return out;
}

/**
 * RGBA → RGB in place: compacts the pixels into the front of the same buffer, so a decoded full-size image
 * never needs a second full-size allocation. The returned raster views the first `3·w·h` bytes.
 */
export function dropAlphaInPlace(data: Uint8Array, width: number, height: number): Raster {
  const n = width * height;
  for (let p = 0, i = 0, o = 0; p < n; p++, i += 4, o += 3) {
    data[o] = data[i]; data[o + 1] = data[i + 1]; data[o + 2] = data[i + 2];
  }
  return { data: data.subarray(0, n * 3), width, height, channels: 3 };
}

/** True when every alpha sample is 255. */
export function isOpaque(data: Uint8Array): boolean {
  for (let i = 3; i < data.length; i += 4) if (data[i] !== 255) return false;
  return true;
}

function lanczos3(x: number): number {
  if (x === 0) return 1;
  if (x <= -3 || x >= 3) return 0;
  const px = Math.PI * x;
  return (3 * Math.sin(px) * Math.sin(px / 3)) / (px * px);
}

interface Taps {
  taps: number;
  start: Int32Array;
  weights: Float32Array;
}

/**
 * Lanczos3 taps mapping `srcLength` samples starting at `srcOffset` onto `dstLength` samples; taps falling
 * outside [lo, hi) are folded onto the edge sample (edge extension, as when the region was cut out first).
 */
function lanczosTaps(srcOffset: number, srcLength: number, dstLength: number, lo: number, hi: number): Taps {
  const scale = srcLength / dstLength;
  const support = scale > 1 ? 3 * scale : 3;
  const taps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(dstLength);
  const weights = new Float32Array(dstLength * taps);
  const stretch = Math.max(scale, 1);
  for (let i = 0; i < dstLength; i++) {
    const centre = srcOffset + (i + 0.5) * scale - 0.5;
    const first = Math.floor(centre - support) + 1;
    start[i] = first;
    let sum = 0;
    for (let t = 0; t < taps; t++) {
      const w = lanczos3((first + t - centre) / stretch);
      weights[i * taps + t] = w;
      sum += w;
    }
    for (let t = 0; t < taps; t++) weights[i * taps + t] /= sum;
  }
  const folded = new Float32Array(taps);
  for (let i = 0; i < dstLength; i++) {
    const first = start[i];
    if (first >= lo && first + taps <= hi) continue;
    // Re-anchor the window inside [lo, hi) where possible and fold outside weights onto the edge samples.
    const anchor = Math.max(lo, Math.min(first, hi - taps));
    folded.fill(0);
    for (let t = 0; t < taps; t++) {
      const s = Math.min(hi - 1, Math.max(lo, first + t));
      folded[s - anchor] += weights[i * taps + t];
    }
    weights.set(folded, i * taps);
    start[i] = anchor;
  }
  return { taps, start, weights };
}

/** Integer box shrink of the `crop` region (premultiplying alpha), returning a smaller raster. */
function boxShrink(src: Raster, crop: Rect, kx: number, ky: number): Raster {
  const c = src.channels, W = src.width, d = src.data;
  const ow = Math.ceil(crop.width / kx), oh = Math.ceil(crop.height / ky);
  const out = new Uint8Array(ow * oh * c);
  const acc = new Float64Array(ow * c);
  const count = new Float64Array(ow);
  for (let oy = 0; oy < oh; oy++) {
    acc.fill(0);
    count.fill(0);
    const y0 = crop.top + oy * ky, y1 = Math.min(crop.top + crop.height, y0 + ky);
    for (let y = y0; y < y1; y++) {
      let i = (y * W + crop.left) * c;
      for (let ox = 0; ox < ow; ox++) {
        const n = Math.min(kx, crop.width - ox * kx);
        let r = 0, g = 0, b = 0, a = 0;
        if (c === 3) {
          for (let k = 0; k < n; k++, i += 3) { r += d[i]; g += d[i + 1]; b += d[i + 2]; }
        } else {
          for (let k = 0; k < n; k++, i += 4) {
            const al = d[i + 3];
            r += d[i] * al; g += d[i + 1] * al; b += d[i + 2] * al; a += al;
          }
          r /= 255; g /= 255; b /= 255;
        }
        const j = ox * c;
        acc[j] += r; acc[j + 1] += g; acc[j + 2] += b;
        if (c === 4) acc[j + 3] += a;
        count[ox] += n;
      }
    }
    let o = oy * ow * c;
    for (let ox = 0; ox < ow; ox++) {
      const inv = 1 / count[ox];
      for (let k = 0; k < c; k++) out[o++] = acc[ox * c + k] * inv + 0.5;
    }
  }
  // Output is premultiplied when c === 4; the Lanczos stage keeps it that way and unpremultiplies at the end.
  return { data: out, width: ow, height: oh, channels: c };
}

/**
 * Resizes the `crop` region of `src` (default: all of it) to exactly `width × height`.
 * Alpha is resampled premultiplied so transparent pixels do not bleed their colour into edges.
 */
export function resize(src: Raster, width: number, height: number, crop?: Rect): Raster {
  const requested: Rect = crop ?? { left: 0, top: 0, width: src.width, height: src.height };
  if (!crop && src.width === width && src.height === height) return src;
  let region = requested;
  const c = src.channels;
  let work = src;
  let premultiplied = false;
  // Box pre-shrink leaves Lanczos a residual ratio of 2–4: faster, and still anti-aliased by the Lanczos stage.
  const kx = Math.max(1, Math.floor(region.width / width / 2));
  const ky = Math.max(1, Math.floor(region.height / height / 2));
  if (kx > 1 || ky > 1) {
    work = boxShrink(src, region, kx, ky);
    premultiplied = c === 4;
    region = { left: 0, top: 0, width: work.width, height: work.height };
  }
  // Fractional source extent after the box stage (the last box may have been partial).
  const hx = lanczosTaps(region.left, requested.width / kx, width, region.left, region.left + region.width);
  const vy = lanczosTaps(region.top, requested.height / ky, height, region.top, region.top + region.height);
  const W = work.width, d = work.data;

  // Horizontal pass over the rows the vertical pass will read, into an 8-bit premultiplied intermediate.
  const rowFirst = Math.max(0, vy.start[0]);
  const rowLast = Math.min(work.height - 1, vy.start[height - 1] + vy.taps - 1);
  const rows = rowLast - rowFirst + 1;
  const mid = new Uint8Array(width * rows * c);
  // Padded so a window re-anchored against a narrow region never reads past the row (its weights there are 0).
  const tmp = new Float32Array((W + hx.taps) * c);
  for (let r = 0; r < rows; r++) {
    const y = rowFirst + r;
    let i = y * W * c;
    if (c === 4 && !premultiplied) {
      for (let x = 0; x < W; x++, i += 4) {
        const a = d[i + 3] / 255;
        tmp[x * 4] = d[i] * a; tmp[x * 4 + 1] = d[i + 1] * a; tmp[x * 4 + 2] = d[i + 2] * a; tmp[x * 4 + 3] = d[i + 3];
      }
    } else {
      for (let k = 0; k < W * c; k++) tmp[k] = d[i + k];
    }
    let o = r * width * c;
    const taps = hx.taps;
    for (let x = 0; x < width; x++) {
      const s0 = hx.start[x] * c, w0 = x * taps;
      let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      for (let t = 0, s = s0; t < taps; t++, s += c) {
        const w = hx.weights[w0 + t];
        a0 += tmp[s] * w; a1 += tmp[s + 1] * w; a2 += tmp[s + 2] * w;
        if (c === 4) a3 += tmp[s + 3] * w;
      }
      mid[o++] = a0 < 0 ? 0 : a0 > 255 ? 255 : a0 + 0.5;
      mid[o++] = a1 < 0 ? 0 : a1 > 255 ? 255 : a1 + 0.5;
      mid[o++] = a2 < 0 ? 0 : a2 > 255 ? 255 : a2 + 0.5;
      if (c === 4) mid[o++] = a3 < 0 ? 0 : a3 > 255 ? 255 : a3 + 0.5;
    }
  }

  // Vertical pass, then unpremultiply.
  const out = new Uint8Array(width * height * c);
  const stride = width * c;
  const acc = new Float32Array(stride);
  for (let y = 0; y < height; y++) {
    acc.fill(0);
    const base = vy.start[y] - rowFirst, w0 = y * vy.taps;
    for (let t = 0; t < vy.taps; t++) {
      const w = vy.weights[w0 + t];
      if (w === 0) continue;
      const row = (base + t) * stride;
      for (let k = 0; k < stride; k++) acc[k] += mid[row + k] * w;
    }
    let o = y * stride;
    if (c === 3) {
      for (let k = 0; k < stride; k++) {
        const v = acc[k];
        out[o++] = v < 0 ? 0 : v > 255 ? 255 : v + 0.5;
      }
    } else {
      for (let k = 0; k < stride; k += 4) {
        const a = acc[k + 3] < 0 ? 0 : acc[k + 3] > 255 ? 255 : acc[k + 3];
        const f = a > 0 ? 255 / a : 0;
        for (let j = 0; j < 3; j++) {
          const v = acc[k + j] * f;
          out[o++] = v < 0 ? 0 : v > 255 ? 255 : v + 0.5;
        }
        out[o++] = a + 0.5;
      }
    }
  }
  return { data: out, width, height, channels: c };
}
