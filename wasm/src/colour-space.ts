/** sRGB, linear light and CIE lightness (D65, sRGB primaries): the conversions the filters need, defined once. */

/** An sRGB value in 0..255 (unrounded) to linear light 0..1. */
export function srgbToLinear(v: number): number {
  const s = v / 255;
  return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
}

/** srgbToLinear of each 8-bit value, by table. */
export const SRGB_TO_LINEAR = Float32Array.from({ length: 256 }, (_, v) => srgbToLinear(v));

/** Linear light (0..1) to an sRGB value in 0..255, unrounded. */
export function linearToSrgb(x: number): number {
  const s = x <= 0.0031308 ? 12.92 * x : 1.055 * x ** (1 / 2.4) - 0.055;
  return 255 * s;
}

/** CIE L* (0..100) of relative luminance Y (0..1). */
export function lightnessOfLuminance(y: number): number {
  return y > 216 / 24389 ? 116 * Math.cbrt(y) - 16 : (24389 / 27) * y;
}

/** Relative luminance of CIE lightness L*. */
export function luminanceOfLightness(l: number): number {
  return l > 8 ? ((l + 16) / 116) ** 3 : (27 / 24389) * l;
}

/** Relative luminance of linear R, G, B (Rec. 709 / sRGB weights). */
export function luminance(r: number, g: number, b: number): number {
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
