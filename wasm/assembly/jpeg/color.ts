// Colour conversion of one output row from (already upsampled) component rows into packed RGB.
// Fixed-point YCbCr→RGB with the JFIF coefficients at 16 fractional bits, as libjpeg does.

export const CS_GRAY: i32 = 0;
export const CS_YCBCR: i32 = 1;
export const CS_RGB: i32 = 2;
/** CMYK as ink amounts (no Adobe marker). */
export const CS_CMYK: i32 = 3;
/** CMYK stored inverted (Adobe APP14 present, transform 0): 255 means no ink. */
export const CS_CMYK_INVERTED: i32 = 4;
/** Adobe YCCK (transform 2): YCbCr of the inverted CMY, K stored inverted. */
export const CS_YCCK: i32 = 5;

@inline function clampByte(v: i32): i32 {
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

export function grayRow(y: usize, out: usize, n: i32): void {
  let x = 0;
  for (; x + 16 <= n; x += 16) {
    const v = v128.load(y + <usize>x);
    storeRgb16(v, v, v, out + <usize>(x * 3));
  }
  for (; x < n; x++) {
    const v = load<u8>(y + <usize>x);
    const o = out + <usize>(x * 3);
    store<u8>(o, v); store<u8>(o, v, 1); store<u8>(o, v, 2);
  }
}

/**
 * Interleaves 16 R, G and B bytes into 48 bytes of RGB at `out`, writing up to 4 bytes beyond them (the
 * output buffer has slack, and rows are written in order, so those bytes are rewritten or unused). Byte and
 * 16-bit unpacks build R,G,B,0 quads, and one single-input shuffle per 4 pixels drops the padding: cheaper
 * than two-input 3-way shuffles on x64 and arm64.
 */
@inline function storeRgb16(r: v128, g: v128, b: v128, out: usize): void {
  const z = i8x16.splat(0);
  const rgLo = i8x16.shuffle(r, g, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const rgHi = i8x16.shuffle(r, g, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const bzLo = i8x16.shuffle(b, z, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const bzHi = i8x16.shuffle(b, z, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const q0 = i8x16.shuffle(rgLo, bzLo, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
  const q1 = i8x16.shuffle(rgLo, bzLo, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
  const q2 = i8x16.shuffle(rgHi, bzHi, 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
  const q3 = i8x16.shuffle(rgHi, bzHi, 8, 9, 24, 25, 10, 11, 26, 27, 12, 13, 28, 29, 14, 15, 30, 31);
  v128.store(out, i8x16.shuffle(q0, q0, 0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, 0, 0, 0, 0), 0);
  v128.store(out, i8x16.shuffle(q1, q1, 0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, 0, 0, 0, 0), 12);
  v128.store(out, i8x16.shuffle(q2, q2, 0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, 0, 0, 0, 0), 24);
  v128.store(out, i8x16.shuffle(q3, q3, 0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, 0, 0, 0, 0), 36);
}

// Q15 fractional parts of the JFIF coefficients (the integer parts are added directly):
// 1.402 = 1 + 0.402, 0.344136, 0.714136, 1.772 = 1 + 0.772.
const CR_R: i16 = 13173;
const CB_G: i16 = 11277;
const CR_G: i16 = 23401;
const CB_B: i16 = 25297;

@inline function ycc8(y: v128, cb: v128, cr: v128, which: i32): v128 {
  // y, cb, cr: i16x8 with chroma already centred on 0.
  if (which == 0) return i16x8.add(i16x8.add(y, cr), i16x8.q15mulr_sat_s(cr, i16x8.splat(CR_R)));
  if (which == 1) {
    return i16x8.sub(i16x8.sub(y, i16x8.q15mulr_sat_s(cb, i16x8.splat(CB_G))), i16x8.q15mulr_sat_s(cr, i16x8.splat(CR_G)));
  }
  return i16x8.add(i16x8.add(y, cb), i16x8.q15mulr_sat_s(cb, i16x8.splat(CB_B)));
}

export function ycbcrRow(y: usize, cb: usize, cr: usize, out: usize, n: i32): void {
  let x = 0;
  const c128 = i16x8.splat(128);
  for (; x + 16 <= n; x += 16) {
    const vy = v128.load(y + <usize>x);
    const vb = v128.load(cb + <usize>x);
    const vr = v128.load(cr + <usize>x);
    const yl = i16x8.extend_low_i8x16_u(vy), yh = i16x8.extend_high_i8x16_u(vy);
    const bl = i16x8.sub(i16x8.extend_low_i8x16_u(vb), c128), bh = i16x8.sub(i16x8.extend_high_i8x16_u(vb), c128);
    const rl = i16x8.sub(i16x8.extend_low_i8x16_u(vr), c128), rh = i16x8.sub(i16x8.extend_high_i8x16_u(vr), c128);
    const r = i8x16.narrow_i16x8_u(ycc8(yl, bl, rl, 0), ycc8(yh, bh, rh, 0));
    const g = i8x16.narrow_i16x8_u(ycc8(yl, bl, rl, 1), ycc8(yh, bh, rh, 1));
    const b = i8x16.narrow_i16x8_u(ycc8(yl, bl, rl, 2), ycc8(yh, bh, rh, 2));
    storeRgb16(r, g, b, out + <usize>(x * 3));
  }
  for (; x < n; x++) {
    const l = <i32>load<u8>(y + <usize>x);
    const b = <i32>load<u8>(cb + <usize>x) - 128;
    const r = <i32>load<u8>(cr + <usize>x) - 128;
    const o = out + <usize>(x * 3);
    store<u8>(o, clampByte(l + ((91881 * r + 32768) >> 16)));
    store<u8>(o, clampByte(l + ((-22554 * b - 46802 * r + 32768) >> 16)), 1);
    store<u8>(o, clampByte(l + ((116130 * b + 32768) >> 16)), 2);
  }
}

export function rgbRow(r: usize, g: usize, b: usize, out: usize, n: i32): void {
  for (let x = 0; x < n; x++) {
    const o = out + <usize>(x * 3);
    store<u8>(o, load<u8>(r + <usize>x));
    store<u8>(o, load<u8>(g + <usize>x), 1);
    store<u8>(o, load<u8>(b + <usize>x), 2);
  }
}

// Naive device-independent CMYK→RGB: R = (1−C)(1−K) with C, K as ink fractions, for CMYK without a usable
// profile (what browsers do for untagged CMYK); a tagged file is decoded to ink instead (cmykInkRow).
@inline function mul255(a: i32, b: i32): i32 {
  const t = a * b + 128;
  return (t + (t >> 8)) >> 8;
}

export function cmykRow(c: usize, m: usize, y: usize, k: usize, out: usize, n: i32, inverted: bool): void {
  const flip = inverted ? 0 : 255;
  for (let x = 0; x < n; x++) {
    // "White" amounts: 255 − ink. Adobe stores them that way already.
    const kw = <i32>load<u8>(k + <usize>x) ^ flip;
    const o = out + <usize>(x * 3);
    store<u8>(o, mul255(<i32>load<u8>(c + <usize>x) ^ flip, kw));
    store<u8>(o, mul255(<i32>load<u8>(m + <usize>x) ^ flip, kw), 1);
    store<u8>(o, mul255(<i32>load<u8>(y + <usize>x) ^ flip, kw), 2);
  }
}

/**
 * CMYK kept as ink amounts (4 bytes a pixel, 0 = no ink), for a conversion through the source's CMYK profile
 * (wasm/src/icc/cmyk.ts): plain CMYK is stored as ink already, Adobe's inverted.
 */
export function cmykInkRow(c: usize, m: usize, y: usize, k: usize, out: usize, n: i32, inverted: bool): void {
  const flip = inverted ? 255 : 0;
  for (let x = 0; x < n; x++) {
    const o = out + <usize>(x * 4);
    store<u8>(o, <i32>load<u8>(c + <usize>x) ^ flip);
    store<u8>(o, <i32>load<u8>(m + <usize>x) ^ flip, 1);
    store<u8>(o, <i32>load<u8>(y + <usize>x) ^ flip, 2);
    store<u8>(o, <i32>load<u8>(k + <usize>x) ^ flip, 3);
  }
}

/** Adobe YCCK as ink amounts: the YCbCr decodes to 255 − ink for C, M, Y (see ycckRow), K is stored inverted. */
export function ycckInkRow(yy: usize, cb: usize, cr: usize, k: usize, out: usize, n: i32): void {
  for (let x = 0; x < n; x++) {
    const l = <i32>load<u8>(yy + <usize>x);
    const b = <i32>load<u8>(cb + <usize>x) - 128;
    const r = <i32>load<u8>(cr + <usize>x) - 128;
    const o = out + <usize>(x * 4);
    store<u8>(o, clampByte(l + ((91881 * r + 32768) >> 16)));
    store<u8>(o, clampByte(l + ((-22554 * b - 46802 * r + 32768) >> 16)), 1);
    store<u8>(o, clampByte(l + ((116130 * b + 32768) >> 16)), 2);
    store<u8>(o, 255 - <i32>load<u8>(k + <usize>x), 3);
  }
}

export function ycckRow(yy: usize, cb: usize, cr: usize, k: usize, out: usize, n: i32): void {
  for (let x = 0; x < n; x++) {
    const l = <i32>load<u8>(yy + <usize>x);
    const b = <i32>load<u8>(cb + <usize>x) - 128;
    const r = <i32>load<u8>(cr + <usize>x) - 128;
    // libjpeg's YCCK→CMYK gives C = 255 − R' (etc.), which Adobe files store inverted; white = 255 − C = R'
    // would be wrong: the inverted value itself is the white amount, so white = C = 255 − R'.
    const kw = <i32>load<u8>(k + <usize>x);
    const o = out + <usize>(x * 3);
    store<u8>(o, mul255(255 - clampByte(l + ((91881 * r + 32768) >> 16)), kw));
    store<u8>(o, mul255(255 - clampByte(l + ((-22554 * b - 46802 * r + 32768) >> 16)), kw), 1);
    store<u8>(o, mul255(255 - clampByte(l + ((116130 * b + 32768) >> 16)), kw), 2);
  }
}
