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
  for (let x = 0; x < n; x++) {
    const v = load<u8>(y + <usize>x);
    const o = out + <usize>(x * 3);
    store<u8>(o, v); store<u8>(o, v, 1); store<u8>(o, v, 2);
  }
}

export function ycbcrRow(y: usize, cb: usize, cr: usize, out: usize, n: i32): void {
  for (let x = 0; x < n; x++) {
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

// Naive device-independent CMYK→RGB: R = (1−C)(1−K) with C, K as ink fractions. No ICC transform: the
// platform has no CMYK profile handling, and this is what browsers do for untagged CMYK.
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
