// Scaled inverse DCTs. A block's top-left K×K quantized coefficients (i16, row stride K) and the matching
// K×K dequantization table (i32) become K×K pixels (K = 8, 4, 2, 1).
//
// The reduced transforms evaluate the low-passed 8-point reconstruction at the centres of the K output
// cells, which is what libjpeg's scaled IDCTs approximate: for cell n of width 8/K the 8-point basis
// cos((2x+1)uπ/16) at x = centre becomes cos((2n+1)uπ/(2K)). Float arithmetic keeps it exact enough that
// results differ from libjpeg's integer IDCT by rounding only.

// M_K[n][u] = ½·C(u)·cos((2n+1)uπ/(2K)), C(0) = 1/√2; MT_K is its transpose (row v = column v of M_K).
const M4: usize = memory.data(16 * 4, 16);
const MT4: usize = memory.data(16 * 4, 16);
// Scratch: dequantized coefficients and the column-pass result (8 rows × 8 f32).
const F: usize = memory.data(64 * 4, 16);
const G: usize = memory.data(64 * 4, 16);

let ready = false;

/** Fills the cosine matrices once per instance. */
export function initIdct(): void {
  if (ready) return;
  ready = true;
  fillMatrix(M4, MT4, 4);
}

function fillMatrix(m: usize, mt: usize, k: i32): void {
  for (let n = 0; n < k; n++) {
    for (let u = 0; u < k; u++) {
      const c: f64 = u == 0 ? Math.SQRT1_2 : 1.0;
      const v = <f32>(0.5 * c * Math.cos(<f64>((2 * n + 1) * u) * Math.PI / <f64>(2 * k)));
      store<f32>(m + ((n * k + u) << 2), v);
      store<f32>(mt + ((u * k + n) << 2), v);
    }
  }
}

@inline function clampByte(v: i32): i32 {
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** A block whose AC coefficients are all zero: one flat value, no transform. */
export function fillFlat(dc: i32, q0: i32, k: i32, dst: usize, stride: i32): void {
  const v = clampByte(((dc * q0 + 4) >> 3) + 128);
  if (k == 1) { store<u8>(dst, v); return; }
  const word = <u32>v * 0x01010101;
  for (let y = 0; y < k; y++) {
    const row = dst + <usize>(y * stride);
    if (k == 8) { store<u32>(row, word); store<u32>(row, word, 4); }
    else if (k == 4) store<u32>(row, word);
    else store<u16>(row, <u16>word);
  }
}

/** AAN scale factors folded into the 8×8 dequantization table: 1, then cos(kπ/16)·√2. */
export function aanScale(k: i32): f32 {
  return k == 0 ? 1.0 : <f32>(Math.cos(<f64>k * Math.PI / 16) * Math.SQRT2);
}

// One 8-point AAN butterfly (Arai, Agui, Nakajima; the flow graph of libjpeg's float IDCT), applied
// lane-wise to 8 vectors at p, p+32, ..., p+224: vector k holds frequency k, vector n gets sample n.
@inline function aan8(p: usize): void {
  const i0 = v128.load(p, 0), i1 = v128.load(p, 32), i2 = v128.load(p, 64), i3 = v128.load(p, 96);
  const i4 = v128.load(p, 128), i5 = v128.load(p, 160), i6 = v128.load(p, 192), i7 = v128.load(p, 224);
  const r2 = f32x4.splat(1.414213562);
  // Even part.
  const t10 = f32x4.add(i0, i4);
  const t11 = f32x4.sub(i0, i4);
  const t13 = f32x4.add(i2, i6);
  const t12 = f32x4.sub(f32x4.mul(f32x4.sub(i2, i6), r2), t13);
  const e0 = f32x4.add(t10, t13);
  const e3 = f32x4.sub(t10, t13);
  const e1 = f32x4.add(t11, t12);
  const e2 = f32x4.sub(t11, t12);
  // Odd part.
  const z13 = f32x4.add(i5, i3);
  const z10 = f32x4.sub(i5, i3);
  const z11 = f32x4.add(i1, i7);
  const z12 = f32x4.sub(i1, i7);
  const o7 = f32x4.add(z11, z13);
  const u11 = f32x4.mul(f32x4.sub(z11, z13), r2);
  const z5 = f32x4.mul(f32x4.add(z10, z12), f32x4.splat(1.847759065));
  const u10 = f32x4.sub(z5, f32x4.mul(z12, f32x4.splat(1.0823922)));
  const u12 = f32x4.sub(z5, f32x4.mul(z10, f32x4.splat(2.61312593)));
  const o6 = f32x4.sub(u12, o7);
  const o5 = f32x4.sub(u11, o6);
  const o4 = f32x4.sub(u10, o5);
  v128.store(p, f32x4.add(e0, o7), 0);
  v128.store(p, f32x4.sub(e0, o7), 224);
  v128.store(p, f32x4.add(e1, o6), 32);
  v128.store(p, f32x4.sub(e1, o6), 192);
  v128.store(p, f32x4.add(e2, o5), 64);
  v128.store(p, f32x4.sub(e2, o5), 160);
  v128.store(p, f32x4.add(e3, o4), 96);
  v128.store(p, f32x4.sub(e3, o4), 128);
}

/** Transposes the 4×4 f32 tile at src (row stride 32 bytes) into dst (row stride 32 bytes). */
@inline function transpose4(src: usize, dst: usize): void {
  const a = v128.load(src, 0), b = v128.load(src, 32), c = v128.load(src, 64), d = v128.load(src, 96);
  const t0 = v128.shuffle<f32>(a, b, 0, 4, 1, 5);
  const t1 = v128.shuffle<f32>(a, b, 2, 6, 3, 7);
  const t2 = v128.shuffle<f32>(c, d, 0, 4, 1, 5);
  const t3 = v128.shuffle<f32>(c, d, 2, 6, 3, 7);
  v128.store(dst, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5), 0);
  v128.store(dst, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7), 32);
  v128.store(dst, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5), 64);
  v128.store(dst, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7), 96);
}

/** src (8×8 f32, row stride 32) transposed into dst. */
@inline function transpose8(src: usize, dst: usize): void {
  transpose4(src, dst);
  transpose4(src + 16, dst + 128);
  transpose4(src + 128, dst + 16);
  transpose4(src + 144, dst + 144);
}

/**
 * 8×8 from all 64 coefficients: float AAN on f32x4, vertical pass on rows as vectors, then a transpose,
 * the horizontal pass, and a transpose back. `qf` is the dequantization table pre-multiplied by the AAN
 * scale factors and 1/8 (see aanScale).
 */
export function idct8(coef: usize, qf: usize, dst: usize, stride: i32): void {
  for (let u = 0; u < 8; u++) {
    const c = v128.load(coef + (u << 4));
    const lo = f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(c));
    const hi = f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(c));
    v128.store(F + (u << 5), f32x4.mul(lo, v128.load(qf + (u << 5))));
    v128.store(F + (u << 5) + 16, f32x4.mul(hi, v128.load(qf + (u << 5) + 16)));
  }
  aan8(F);
  aan8(F + 16);
  transpose8(F, G);
  aan8(G);
  aan8(G + 16);
  transpose8(G, F);
  const bias = f32x4.splat(128);
  for (let n = 0; n < 8; n++) {
    const iLo = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.add(v128.load(F + (n << 5)), bias)));
    const iHi = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.add(v128.load(F + (n << 5) + 16), bias)));
    const px = i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_s(iLo, iHi), i16x8.splat(0));
    store<u64>(dst + <usize>(n * stride), i64x2.extract_lane(px, 0));
  }
}

/** 4×4 from the top-left 4×4 coefficients (1/2 scale). */
export function idct4(coef: usize, q: usize, dst: usize, stride: i32): void {
  for (let u = 0; u < 4; u++) {
    const c = i32x4.mul(v128.load16x4_s(coef + (u << 3)), v128.load(q + (u << 4)));
    v128.store(F + (u << 4), f32x4.convert_i32x4_s(c));
  }
  const f0 = v128.load(F, 0), f1 = v128.load(F, 16), f2 = v128.load(F, 32), f3 = v128.load(F, 48);
  const bias = f32x4.splat(128);
  const t0 = v128.load(MT4, 0), t1 = v128.load(MT4, 16), t2 = v128.load(MT4, 32), t3 = v128.load(MT4, 48);
  for (let n = 0; n < 4; n++) {
    const mrow = M4 + (n << 4);
    let g = f32x4.mul(f32x4.splat(load<f32>(mrow, 0)), f0);
    g = f32x4.add(g, f32x4.mul(f32x4.splat(load<f32>(mrow, 4)), f1));
    g = f32x4.add(g, f32x4.mul(f32x4.splat(load<f32>(mrow, 8)), f2));
    g = f32x4.add(g, f32x4.mul(f32x4.splat(load<f32>(mrow, 12)), f3));
    let o = f32x4.add(bias, f32x4.mul(f32x4.splat(f32x4.extract_lane(g, 0)), t0));
    o = f32x4.add(o, f32x4.mul(f32x4.splat(f32x4.extract_lane(g, 1)), t1));
    o = f32x4.add(o, f32x4.mul(f32x4.splat(f32x4.extract_lane(g, 2)), t2));
    o = f32x4.add(o, f32x4.mul(f32x4.splat(f32x4.extract_lane(g, 3)), t3));
    const i = i32x4.trunc_sat_f32x4_s(f32x4.nearest(o));
    const px = i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_s(i, i), i16x8.splat(0));
    store<u32>(dst + <usize>(n * stride), i32x4.extract_lane(px, 0));
  }
}

/** 2×2 from the top-left 2×2 coefficients (1/4 scale): every basis weight is ±1/(2√2)² = ±1/8. */
export function idct2(coef: usize, q: usize, dst: usize, stride: i32): void {
  const a = <i32>load<i16>(coef, 0) * load<i32>(q, 0);
  const b = <i32>load<i16>(coef, 2) * load<i32>(q, 4);
  const c = <i32>load<i16>(coef, 4) * load<i32>(q, 8);
  const d = <i32>load<i16>(coef, 6) * load<i32>(q, 12);
  store<u8>(dst, clampByte(((a + b + c + d + 4) >> 3) + 128));
  store<u8>(dst, clampByte(((a - b + c - d + 4) >> 3) + 128), 1);
  const row = dst + <usize>stride;
  store<u8>(row, clampByte(((a + b - c - d + 4) >> 3) + 128));
  store<u8>(row, clampByte(((a - b - c + d + 4) >> 3) + 128), 1);
}
