// Scaled inverse DCTs. A block's top-left K×K quantized coefficients (i16, row stride K) and the matching
// K×K dequantization table (i32) become K×K pixels (K = 8, 4, 2, 1).
//
// The reduced transforms evaluate the low-passed 8-point reconstruction at the centres of the K output
// cells, which is what libjpeg's scaled IDCTs approximate: for cell n of width 8/K the 8-point basis
// cos((2x+1)uπ/16) at x = centre becomes cos((2n+1)uπ/(2K)). Float arithmetic keeps it exact enough that
// results differ from libjpeg's integer IDCT by rounding only.

// M_K[n][u] = ½·C(u)·cos((2n+1)uπ/(2K)), C(0) = 1/√2; MT_K is its transpose (row v = column v of M_K).
const M8: usize = memory.data(64 * 4, 16);
const MT8: usize = memory.data(64 * 4, 16);
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
  fillMatrix(M8, MT8, 8);
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

/** 8×8 from all 64 coefficients: separable matrix form on f32x4, skipping all-zero coefficient rows. */
export function idct8(coef: usize, q: usize, dst: usize, stride: i32): void {
  // Dequantize into F and note which rows carry any coefficient.
  let nzRows: i32 = 0;
  for (let u = 0; u < 8; u++) {
    const c = v128.load(coef + (u << 4));
    if (v128.any_true(c)) nzRows |= 1 << u;
    const lo = i32x4.mul(i32x4.extend_low_i16x8_s(c), v128.load(q + (u << 5)));
    const hi = i32x4.mul(i32x4.extend_high_i16x8_s(c), v128.load(q + (u << 5) + 16));
    v128.store(F + (u << 5), f32x4.convert_i32x4_s(lo));
    v128.store(F + (u << 5) + 16, f32x4.convert_i32x4_s(hi));
  }
  // Column pass: G[n] = Σ_u M[n][u]·F[u].
  for (let n = 0; n < 8; n++) {
    let aLo = f32x4.splat(0);
    let aHi = f32x4.splat(0);
    let rows = nzRows;
    while (rows != 0) {
      const u = ctz(rows);
      rows &= rows - 1;
      const m = f32x4.splat(load<f32>(M8 + ((n * 8 + u) << 2)));
      aLo = f32x4.add(aLo, f32x4.mul(m, v128.load(F + (u << 5))));
      aHi = f32x4.add(aHi, f32x4.mul(m, v128.load(F + (u << 5) + 16)));
    }
    v128.store(G + (n << 5), aLo);
    v128.store(G + (n << 5) + 16, aHi);
  }
  // Row pass: out[n] = 128 + Σ_v G[n][v]·MT[v]; saturating narrows clamp to 0..255.
  const bias = f32x4.splat(128);
  for (let n = 0; n < 8; n++) {
    const gLo = v128.load(G + (n << 5));
    const gHi = v128.load(G + (n << 5) + 16);
    let oLo = bias;
    let oHi = bias;
    let s = f32x4.splat(f32x4.extract_lane(gLo, 0));
    oLo = f32x4.add(oLo, f32x4.mul(s, v128.load(MT8, 0))); oHi = f32x4.add(oHi, f32x4.mul(s, v128.load(MT8, 16)));
    s = f32x4.splat(f32x4.extract_lane(gLo, 1));
    oLo = f32x4.add(oLo, f32x4.mul(s, v128.load(MT8, 32))); oHi = f32x4.add(oHi, f32x4.mul(s, v128.load(MT8, 48)));
    s = f32x4.splat(f32x4.extract_lane(gLo, 2));
    oLo = f32x4.add(oLo, f32x4.mul(s, v128.load(MT8, 64))); oHi = f32x4.add(oHi, f32x4.mul(s, v128.load(MT8, 80)));
    s = f32x4.splat(f32x4.extract_lane(gLo, 3));
    oLo = f32x4.add(oLo, f32x4.mul(s, v128.load(MT8, 96))); oHi = f32x4.add(oHi, f32x4.mul(s, v128.load(MT8, 112)));
    s = f32x4.splat(f32x4.extract_lane(gHi, 0));
    oLo = f32x4.add(oLo, f32x4.mul(s, v128.load(MT8, 128))); oHi = f32x4.add(oHi, f32x4.mul(s, v128.load(MT8, 144)));
    s = f32x4.splat(f32x4.extract_lane(gHi, 1));
    oLo = f32x4.add(oLo, f32x4.mul(s, v128.load(MT8, 160))); oHi = f32x4.add(oHi, f32x4.mul(s, v128.load(MT8, 176)));
    s = f32x4.splat(f32x4.extract_lane(gHi, 2));
    oLo = f32x4.add(oLo, f32x4.mul(s, v128.load(MT8, 192))); oHi = f32x4.add(oHi, f32x4.mul(s, v128.load(MT8, 208)));
    s = f32x4.splat(f32x4.extract_lane(gHi, 3));
    oLo = f32x4.add(oLo, f32x4.mul(s, v128.load(MT8, 224))); oHi = f32x4.add(oHi, f32x4.mul(s, v128.load(MT8, 240)));
    const iLo = i32x4.trunc_sat_f32x4_s(f32x4.nearest(oLo));
    const iHi = i32x4.trunc_sat_f32x4_s(f32x4.nearest(oHi));
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
