// Box pre-shrink: averages blocks of source pixels into one row of f32x4 pixels (one channel per lane),
// RGBA premultiplied so transparent pixels carry no colour into their neighbours. RGB pixels are read with a
// 4-byte load; the fourth lane holds the next pixel's red and is never written out (the caller leaves slack
// after the source).

@inline function loadPixel(p: usize): v128 {
  return i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(v128.load32_zero(p)));
}

/**
 * Box-averages `rows` source rows (starting at `src`, `stride` bytes apart) over blocks of `sx` pixels into
 * `outW` f32x4 pixels at `dst`; the last block may be narrower than `sx` when `width` is not a multiple.
 * Sums stay in i32 lanes inside a block (RGBA premultiplies as colour × alpha, ≤ 65025 per pixel) and go to
 * f32 once per block and row, so this loop is adds and one multiply per source pixel.
 */
export function boxRow(
  src: usize, stride: usize, rows: i32, channels: i32, width: i32, sx: i32, outW: i32, dst: usize,
): void {
  memory.fill(dst, 0, <usize>outW << 4);
  const bpp = <usize>channels;
  const alphaScale = i32x4(0, 0, 0, 255);
  const keepRgb = i32x4(-1, -1, -1, 0);
  for (let r = 0; r < rows; r++) {
    const row = src + <usize>r * stride;
    for (let bx = 0; bx < outW; bx++) {
      const d = dst + (<usize>bx << 4);
      const end = min(bx * sx + sx, width);
      let p = row + <usize>(bx * sx) * bpp;
      // i32 lanes hold 33025 premultiplied pixels; flush to f32 every 32768 so any box width is safe.
      for (let x0 = bx * sx; x0 < end; x0 += 32768) {
        const x1 = min(x0 + 32768, end);
        let sum = i32x4.splat(0);
        if (channels == 4) {
          for (let x = x0; x < x1; x++) {
            const v = loadPixel(p);
            const a = v128.or(v128.and(i32x4.shuffle(v, v, 3, 3, 3, 3), keepRgb), alphaScale);
            sum = i32x4.add(sum, i32x4.mul(v, a));
            p += 4;
          }
        } else {
          for (let x = x0; x < x1; x++) {
            sum = i32x4.add(sum, loadPixel(p));
            p += 3;
          }
        }
        v128.store(d, f32x4.add(v128.load(d), f32x4.convert_i32x4_s(sum)));
      }
    }
  }
  // Each block's sum covers (x1 - x0) × rows pixels; RGBA sums are also × 255 from premultiplying.
  const rowsF = <f32>rows * (channels == 4 ? 255.0 : 1.0);
  for (let bx = 0; bx < outW; bx++) {
    const x0 = bx * sx;
    const n = min(x0 + sx, width) - x0;
    const d = dst + (<usize>bx << 4);
    v128.store(d, f32x4.mul(v128.load(d), f32x4.splat(<f32>1.0 / (<f32>n * rowsF))));
  }
}
