// The filter passes, in fixed point. Weights become i16 with 14 fractional bits (2.14), which is what lets
// one i32x4.dot_i16x8_s do eight multiplies; f32 would need a convert per source value and twice the lanes
// for the same work, and the 8-bit inputs need no more than 14 bits of weight precision.
//
// RGB: the horizontal pass multiplies four taps per 16-byte load with i32x4.dot_i16x8_s, and the vertical
// pass runs straight across the values of a row (no per-pixel layout at all), two rows per dot. Between the
// passes rows are kept as i16 with 6 extra fractional bits and no clamping (6 bytes a pixel): libvips rounds
// and clips to 8 bits there, which costs up to ~7 dB on hard edges against exact Lanczos, for a ring that is
// small either way.
import { take } from "./arena";
import { Contributions } from "./lanczos";

const ONE: f32 = 16384.0; // 1.0 in 2.14
const SHIFT: i32 = 14;
const MID_BITS: i32 = 6; // extra precision of the intermediate rows (|value| ≤ 255 · Σ|w| · 64 < 32768)

/** Taps are consumed four at a time horizontally; weights are padded with zeros to a multiple of four. */
export function groupsFor(c: Contributions): i32 {
  return (c.taps + 3) >> 2;
}

/** Rounds one output's f32 weights to i16 whose sum is exactly 1.0 (the rounding error goes to the largest). */
function quantise(w: usize, n: i32, dst: usize, stride: usize): void {
  let sum = 0;
  let biggest = 0;
  for (let k = 0; k < n; k++) {
    const q = <i32>Mathf.round(load<f32>(w + (<usize>k << 2)) * ONE);
    store<i16>(dst + <usize>k * stride, <i16>q);
    sum += q;
    if (abs(q) > abs(<i32>load<i16>(dst + <usize>biggest * stride))) biggest = k;
  }
  const p = dst + <usize>biggest * stride;
  store<i16>(p, <i16>(<i32>load<i16>(p) + (<i32>ONE - sum)));
}

/**
 * Horizontal weights laid out for `horizontalRgb`: per output pixel, per group of four taps, two i16x8
 * vectors [w0 w1 w0 w1 w0 w1 0 0] and [w2 w3 w2 w3 w2 w3 0 0], matching the channel pairs the shuffles build.
 */
export function horizontalWeights(c: Contributions, outLen: i32): usize {
  const groups = groupsFor(c);
  const perOut = <usize>groups << 5;
  const base = take(<usize>outLen * perOut);
  memory.fill(base, 0, <usize>outLen * perOut);
  const scratch = take(<usize>c.taps << 1);
  for (let i = 0; i < outLen; i++) {
    const n = load<i32>(c.counts + (<usize>i << 2));
    memory.fill(scratch, 0, <usize>c.taps << 1);
    quantise(c.weights + (<usize>i * <usize>c.taps << 2), n, scratch, 2);
    const dst = base + <usize>i * perOut;
    for (let k = 0; k < n; k++) {
      const w = load<i16>(scratch + (<usize>k << 1));
      // Tap k sits in vector k >> 1, lanes (k & 1), (k & 1) + 2, (k & 1) + 4.
      const v = dst + (<usize>(k >> 1) << 4) + (<usize>(k & 1) << 1);
      store<i16>(v, w);
      store<i16>(v, w, 4);
      store<i16>(v, w, 8);
    }
  }
  return base;
}

/**
 * Vertical weights: per output row, taps in pairs packed as one i32 (low half the even tap), splatted into
 * [wA wB wA wB …] so one dot multiplies two rows interleaved value by value. Odd counts pad with 0.
 */
export function verticalWeights(c: Contributions, outLen: i32): usize {
  const pairs = <usize>((c.taps + 1) >> 1);
  const base = take(<usize>outLen * pairs << 2);
  memory.fill(base, 0, <usize>outLen * pairs << 2);
  for (let j = 0; j < outLen; j++) {
    const n = load<i32>(c.counts + (<usize>j << 2));
    quantise(c.weights + (<usize>j * <usize>c.taps << 2), n, base + (<usize>j * pairs << 2), 2);
  }
  return base;
}

/** Number of i32 weight pairs per output row in `verticalWeights`. */
@inline function pairsFor(c: Contributions): usize {
  return <usize>((c.taps + 1) >> 1);
}

/**
 * Filters one RGB row (`src`, with 32 bytes readable past its end) into `outW` i16 RGB pixels at `dst` (which
 * takes 2 bytes of overrun). Each group reads pixels p..p+3 with one load and pairs their channels for the dot.
 */
export function horizontalRgb(src: usize, c: Contributions, weights: usize, outW: i32, dst: usize): void {
  const groups = groupsFor(c);
  const round = i32x4.splat(1 << (SHIFT - MID_BITS - 1));
  // Swizzle indices ≥ 16 give 0: these zero-extend while pairing the same channel of adjacent pixels.
  const pairA = i8x16(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1);
  const pairB = i8x16(6, -1, 9, -1, 7, -1, 10, -1, 8, -1, 11, -1, -1, -1, -1, -1);
  for (let x = 0; x < outW; x++) {
    const start = load<i32>(c.starts + (<usize>x << 2));
    const n = load<i32>(c.counts + (<usize>x << 2));
    let w = weights + (<usize>x * <usize>groups << 5);
    let p = src + <usize>start * 3;
    let acc = round;
    for (let k = 0; k < n; k += 4) {
      const v = v128.load(p);
      const a = i8x16.swizzle(v, pairA);
      const b = i8x16.swizzle(v, pairB);
      acc = i32x4.add(acc, i32x4.dot_i16x8_s(a, v128.load(w)));
      acc = i32x4.add(acc, i32x4.dot_i16x8_s(b, v128.load(w, 16)));
      p += 12;
      w += 32;
    }
    const s = i32x4.shr_s(acc, SHIFT - MID_BITS);
    v128.store64_lane(dst + <usize>x * 6, i16x8.narrow_i32x4_s(s, s), 0);
  }
}

/** Interleaves two rows' i16 values: low four of each, then high four, for a dot with paired weights. */
@inline function interleaveLow(a: v128, b: v128): v128 {
  return i16x8.shuffle(a, b, 0, 8, 1, 9, 2, 10, 3, 11);
}
@inline function interleaveHigh(a: v128, b: v128): v128 {
  return i16x8.shuffle(a, b, 4, 12, 5, 13, 6, 14, 7, 15);
}

/**
 * Vertical pass for output row `j` over i16 rows (`rowPtrs`, one per tap plus a repeat of the last, each
 * readable to a multiple of 16 values): `values` channel values to `out` as bytes (up to 15 bytes overrun).
 * Rows go in pairs: interleaving two rows lets one dot apply both of their weights.
 */
export function verticalRgb(rowPtrs: usize, c: Contributions, weights: usize, j: i32, values: i32, out: usize): void {
  const n = load<i32>(c.counts + (<usize>j << 2));
  const pairs = pairsFor(c);
  const w = weights + (<usize>j * pairs << 2);
  const shift = SHIFT + MID_BITS;
  const round = i32x4.splat(1 << (shift - 1));
  for (let x = 0; x < values; x += 16) {
    const off = <usize>x << 1;
    let a0 = round, a1 = round, a2 = round, a3 = round;
    for (let k = 0; k < n; k += 2) {
      const ra = load<usize>(rowPtrs + (<usize>k << 2)) + off;
      const rb = load<usize>(rowPtrs + (<usize>k << 2), 4) + off;
      const wk = i32x4.splat(load<i32>(w + (<usize>k << 1)));
      const va = v128.load(ra), vb = v128.load(rb);
      const vc = v128.load(ra, 16), vd = v128.load(rb, 16);
      a0 = i32x4.add(a0, i32x4.dot_i16x8_s(interleaveLow(va, vb), wk));
      a1 = i32x4.add(a1, i32x4.dot_i16x8_s(interleaveHigh(va, vb), wk));
      a2 = i32x4.add(a2, i32x4.dot_i16x8_s(interleaveLow(vc, vd), wk));
      a3 = i32x4.add(a3, i32x4.dot_i16x8_s(interleaveHigh(vc, vd), wk));
    }
    const l = i16x8.narrow_i32x4_s(i32x4.shr_s(a0, shift), i32x4.shr_s(a1, shift));
    const h = i16x8.narrow_i32x4_s(i32x4.shr_s(a2, shift), i32x4.shr_s(a3, shift));
    v128.store(out + <usize>x, i8x16.narrow_i16x8_u(l, h));
  }
}

/** Rounds a row of f32x4 pixels (box-shrunk RGB) to packed 8-bit RGB; writes 1 byte of overrun. */
export function packRgb(src: usize, width: i32, dst: usize): void {
  const zero = v128.splat<i32>(0);
  for (let x = 0; x < width; x++) {
    const i = i32x4.trunc_sat_f32x4_s(f32x4.nearest(v128.load(src + (<usize>x << 4))));
    v128.store32_lane(dst + <usize>x * 3, i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_s(i, i), zero), 0);
  }
}

// RGBA in fixed point. Pixels are premultiplied into i16 as (channel × alpha) / 4, alpha as (alpha × 255) / 4,
// so all four lanes share one scale (≤ 16256, leaving headroom for Lanczos overshoot in i16). Two bits fewer
// than exact only matters for colour at alpha below ~4/255, which nobody can see.

/** Horizontal RGBA weights: per output pixel, per pair of taps, one i16x8 [w0 w1 w0 w1 w0 w1 w0 w1]. */
export function horizontalWeightsRgba(c: Contributions, outLen: i32): usize {
  const pairs = (c.taps + 1) >> 1;
  const perOut = <usize>pairs << 4;
  const base = take(<usize>outLen * perOut);
  memory.fill(base, 0, <usize>outLen * perOut);
  const scratch = take(<usize>c.taps << 1);
  for (let i = 0; i < outLen; i++) {
    const n = load<i32>(c.counts + (<usize>i << 2));
    memory.fill(scratch, 0, <usize>c.taps << 1);
    quantise(c.weights + (<usize>i * <usize>c.taps << 2), n, scratch, 2);
    const dst = base + <usize>i * perOut;
    for (let k = 0; k < n; k++) {
      const w = load<i16>(scratch + (<usize>k << 1));
      const v = dst + (<usize>(k >> 1) << 4) + (<usize>(k & 1) << 1);
      store<i16>(v, w);
      store<i16>(v, w, 4);
      store<i16>(v, w, 8);
      store<i16>(v, w, 12);
    }
  }
  return base;
}

/**
 * Premultiplies `width` 8-bit RGBA pixels into the i16 layout above (8 bytes a pixel), four pixels per step:
 * reads up to 12 bytes past the row and writes up to 24 bytes past `width` pixels. Products fit u16
 * (255 · 255 + 2 < 65536), so the multiply stays in 16-bit lanes.
 */
export function premultiplyRgba(src: usize, width: i32, dst: usize): void {
  const alphaLo = i8x16(6, -1, 6, -1, 6, -1, -1, -1, 14, -1, 14, -1, 14, -1, -1, -1);
  const opaque = i16x8(0, 0, 0, 255, 0, 0, 0, 255);
  const two = i16x8.splat(2);
  for (let x = 0; x < width; x += 4) {
    const v = v128.load(src + (<usize>x << 2));
    const lo = i16x8.extend_low_i8x16_u(v);
    const hi = i16x8.extend_high_i8x16_u(v);
    // Alpha sits in byte 6 and 14 of each widened half; the multiplier is [a a a 255] per pixel.
    const mlo = v128.or(i8x16.swizzle(lo, alphaLo), opaque);
    const mhi = v128.or(i8x16.swizzle(hi, alphaLo), opaque);
    const d = dst + (<usize>x << 3);
    v128.store(d, i16x8.shr_u(i16x8.add(i16x8.mul(lo, mlo), two), 2));
    v128.store(d, i16x8.shr_u(i16x8.add(i16x8.mul(hi, mhi), two), 2), 16);
  }
}

/** Converts box-averaged premultiplied f32x4 pixels (0..255 scale) into the i16 layout. */
export function packRgba(src: usize, width: i32, dst: usize): void {
  const k = f32x4.splat(255.0 / 4.0);
  for (let x = 0; x < width; x++) {
    const i = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v128.load(src + (<usize>x << 4)), k)));
    v128.store64_lane(dst + (<usize>x << 3), i16x8.narrow_i32x4_s(i, i), 0);
  }
}

/**
 * Filters one premultiplied i16 RGBA row (16 bytes readable past its end) into `outW` pixels of the same
 * layout at `dst`. Each pair of taps is one load, one shuffle pairing the two pixels' channels, one dot.
 */
export function horizontalRgba(src: usize, c: Contributions, weights: usize, outW: i32, dst: usize): void {
  const pairs = (c.taps + 1) >> 1;
  const round = i32x4.splat(1 << (SHIFT - 1));
  for (let x = 0; x < outW; x++) {
    const start = load<i32>(c.starts + (<usize>x << 2));
    const n = load<i32>(c.counts + (<usize>x << 2));
    let w = weights + (<usize>x * <usize>pairs << 4);
    let p = src + (<usize>start << 3);
    let acc0 = round;
    let acc1 = i32x4.splat(0);
    let k = 0;
    for (; k + 2 < n; k += 4) {
      const v0 = v128.load(p);
      const v1 = v128.load(p, 16);
      acc0 = i32x4.add(acc0, i32x4.dot_i16x8_s(i16x8.shuffle(v0, v0, 0, 4, 1, 5, 2, 6, 3, 7), v128.load(w)));
      acc1 = i32x4.add(acc1, i32x4.dot_i16x8_s(i16x8.shuffle(v1, v1, 0, 4, 1, 5, 2, 6, 3, 7), v128.load(w, 16)));
      p += 32;
      w += 32;
    }
    if (k < n) {
      const v = v128.load(p);
      acc0 = i32x4.add(acc0, i32x4.dot_i16x8_s(i16x8.shuffle(v, v, 0, 4, 1, 5, 2, 6, 3, 7), v128.load(w)));
    }
    const s = i32x4.shr_s(i32x4.add(acc0, acc1), SHIFT);
    v128.store64_lane(dst + (<usize>x << 3), i16x8.narrow_i32x4_s(s, s), 0);
  }
}

/**
 * Vertical pass for premultiplied i16 RGBA rows: output row `j` as 8-bit straight RGBA, two pixels per
 * vector, un-premultiplied, rounded and saturated. `out` takes no overrun; rows are read to a multiple of
 * two pixels.
 */
export function verticalRgba(rowPtrs: usize, c: Contributions, weights: usize, j: i32, outW: i32, out: usize): void {
  const n = load<i32>(c.counts + (<usize>j << 2));
  const w = weights + (<usize>j * pairsFor(c) << 2);
  // Sums are in (value × 16384) units of (channel × alpha) / 4; alpha comes back as A · 4 / (255 · 16384).
  const alphaUnit: f32 = 4.0 / (255.0 * 16384.0);
  const zero = v128.splat<i32>(0);
  for (let x = 0; x < outW; x += 2) {
    const off = <usize>x << 3;
    let a0 = zero, a1 = zero;
    for (let k = 0; k < n; k += 2) {
      const va = v128.load(load<usize>(rowPtrs + (<usize>k << 2)) + off);
      const vb = v128.load(load<usize>(rowPtrs + (<usize>k << 2), 4) + off);
      const wk = i32x4.splat(load<i32>(w + (<usize>k << 1)));
      a0 = i32x4.add(a0, i32x4.dot_i16x8_s(interleaveLow(va, vb), wk));
      a1 = i32x4.add(a1, i32x4.dot_i16x8_s(interleaveHigh(va, vb), wk));
    }
    const p0 = unpremultiply(f32x4.convert_i32x4_s(a0), alphaUnit);
    const p1 = unpremultiply(f32x4.convert_i32x4_s(a1), alphaUnit);
    const b = i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_s(p0, p1), zero);
    v128.store32_lane(out + (<usize>x << 2), b, 0);
    if (x + 1 < outW) v128.store32_lane(out + (<usize>x << 2), b, 1, 4);
  }
}

@inline function unpremultiply(v: v128, alphaUnit: f32): v128 {
  const a = f32x4.extract_lane(v, 3);
  const alpha = a * alphaUnit;
  // Below half a level the pixel rounds to transparent; its colour is meaningless, keep it black.
  const inv: f32 = alpha >= 0.5 ? <f32>255.0 / a : 0;
  return i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.mul(v, f32x4(inv, inv, inv, alphaUnit))));
}
