import { take } from "./arena";

// Contributions of input pixels to each output pixel along one axis, in three arrays so the hot loops read
// plain memory: start (i32), count (i32), and `taps` f32 weights per output pixel (unused slots are zero).
// fixed.ts quantises these to the i16 layouts its SIMD loops want.
@unmanaged
export class Contributions {
  starts: usize = 0;
  counts: usize = 0;
  weights: usize = 0;
  taps: i32 = 0;
  maxCount: i32 = 0;
}

const A: f64 = 3.0;

@inline function sinc(x: f64): f64 {
  if (x == 0.0) return 1.0;
  const px = Math.PI * x;
  return Math.sin(px) / px;
}

@inline function lanczos3(x: f64): f64 {
  if (x <= -A || x >= A) return 0.0;
  return sinc(x) * sinc(x / A);
}

/** Maximum taps per output pixel for `scale` input pixels per output pixel (shared with the TS estimate). */
export function tapsFor(scale: f64): i32 {
  const support = A * Math.max(scale, 1.0);
  return <i32>Math.ceil(support) * 2 + 1;
}

/**
 * Lanczos3 weights for `outLen` outputs over `inLen` inputs, with `scale` input pixels per output pixel.
 * Pixel centres sit at i + 0.5 on both axes (the convention sharp/libvips and Pillow use). When shrinking the
 * kernel is stretched by the scale so it low-passes at the output's Nyquist; taps falling off the image are
 * dropped and the rest renormalised so every row of weights sums to 1.
 */
export function contributions(inLen: i32, outLen: i32, scale: f64): Contributions {
  const c = changetype<Contributions>(take(offsetof<Contributions>()));
  const filterScale = Math.max(scale, 1.0);
  const support = A * filterScale;
  const taps = tapsFor(scale);
  c.taps = taps;
  c.starts = take(<usize>outLen << 2);
  c.counts = take(<usize>outLen << 2);
  c.weights = take(<usize>outLen * <usize>taps << 2);
  const invFs = 1.0 / filterScale;
  let maxCount = 0;
  for (let i = 0; i < outLen; i++) {
    const centre = (<f64>i + 0.5) * scale;
    let lo = <i32>Math.floor(centre - support + 0.5);
    let hi = <i32>Math.floor(centre + support + 0.5);
    if (lo < 0) lo = 0;
    if (hi > inLen) hi = inLen;
    if (hi <= lo) { // cannot happen for sane scales; keep the nearest pixel rather than divide by zero
      lo = min(max(<i32>Math.floor(centre), 0), inLen - 1);
      hi = lo + 1;
    }
    let n = hi - lo;
    if (n > taps) n = taps;
    const w = c.weights + (<usize>i * <usize>taps << 2);
    let sum = 0.0;
    for (let k = 0; k < n; k++) {
      const v = lanczos3((<f64>(lo + k) + 0.5 - centre) * invFs);
      store<f32>(w + (<usize>k << 2), <f32>v);
      sum += v;
    }
    const norm = sum != 0.0 ? 1.0 / sum : 0.0;
    for (let k = 0; k < taps; k++) {
      const p = w + (<usize>k << 2);
      store<f32>(p, k < n ? <f32>(<f64>load<f32>(p) * norm) : 0);
    }
    store<i32>(c.starts + (<usize>i << 2), lo);
    store<i32>(c.counts + (<usize>i << 2), n);
    if (n > maxCount) maxCount = n;
  }
  c.maxCount = maxCount;
  return c;
}
