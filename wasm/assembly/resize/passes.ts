import { Contributions } from "./lanczos";

/** Horizontal Lanczos pass: one row of f32x4 input pixels → `outW` f32x4 pixels at `dst`. */
export function horizontal(row: usize, c: Contributions, outW: i32, dst: usize): void {
  const taps = <usize>c.taps;
  for (let x = 0; x < outW; x++) {
    const start = load<i32>(c.starts + (<usize>x << 2));
    const n = load<i32>(c.counts + (<usize>x << 2));
    let w = c.weights + (<usize>x * taps << 2);
    let p = row + (<usize>start << 4);
    // Two accumulators so consecutive multiply-adds do not wait on each other.
    let acc0 = f32x4.splat(0);
    let acc1 = f32x4.splat(0);
    let k = 0;
    for (; k + 1 < n; k += 2) {
      acc0 = f32x4.add(acc0, f32x4.mul(v128.load(p), v128.load32_splat(w)));
      acc1 = f32x4.add(acc1, f32x4.mul(v128.load(p, 16), v128.load32_splat(w, 4)));
      p += 32;
      w += 8;
    }
    if (k < n) acc0 = f32x4.add(acc0, f32x4.mul(v128.load(p), v128.load32_splat(w)));
    v128.store(dst + (<usize>x << 4), f32x4.add(acc0, acc1));
  }
}

/**
 * Vertical Lanczos pass for output row `j`: combines the horizontally filtered rows whose addresses are in
 * `rowPtrs` (one usize per tap) and writes `outW` 8-bit pixels to `out`, un-premultiplying RGBA, rounding to
 * nearest and saturating to 0..255. RGB writes 4 bytes per pixel (the caller leaves slack after the output).
 */
export function vertical(rowPtrs: usize, c: Contributions, j: i32, outW: i32, channels: i32, out: usize): void {
  const n = load<i32>(c.counts + (<usize>j << 2));
  const w = c.weights + (<usize>j * <usize>c.taps << 2);
  for (let x = 0; x < outW; x++) {
    const off = <usize>x << 4;
    let acc = f32x4.splat(0);
    for (let k = 0; k < n; k++) {
      const row = load<usize>(rowPtrs + (<usize>k << 2));
      acc = f32x4.add(acc, f32x4.mul(v128.load(row + off), v128.load32_splat(w + (<usize>k << 2))));
    }
    if (channels == 4) {
      const a = f32x4.extract_lane(acc, 3);
      // Below half a level the pixel rounds to transparent; its colour is meaningless, keep it black.
      const inv: f32 = a >= 0.5 ? <f32>255.0 / a : 0;
      acc = f32x4.mul(acc, f32x4(inv, inv, inv, a >= 0.5 ? 1 : 0));
    }
    const i = i32x4.trunc_sat_f32x4_s(f32x4.nearest(acc));
    const b = i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_s(i, i), i16x8.splat(0));
    v128.store32_lane(out + <usize>x * <usize>channels, b, 0);
  }
}
