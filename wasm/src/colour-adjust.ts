/**
 * brightness, contrast, gamma and saturation on 8-bit RGB(A), alpha untouched, in this order:
 * - brightness b and saturation s as sharp's modulate does them: a diagonal matrix on CIE Lab, L*·b and a*, b*·s
 *   (so s = 0 is the grey of the same lightness); the only per-pixel conversion, skipped when both are 1;
 * - contrast c and gamma g as one curve per channel value (a 256-entry table): (v − 127.5)·c + 127.5, then
 *   255·(v/255)^(1/g), so gamma 2 lightens and 0.5 darkens (Cloudflare's direction).
 */
import type { Raster } from "./raster.ts";
import type { Filters } from "./vocabulary.ts";
import { SRGB_TO_LINEAR, linearToSrgb } from "./colour-space.ts";

export type ColourAdjustment = Pick<Filters, "brightness" | "contrast" | "gamma" | "saturation">;

/** Whether `a` changes any pixel. */
export function adjustsColour(a: ColourAdjustment): boolean {
  return a.brightness !== 1 || a.contrast !== 1 || a.gamma !== 1 || a.saturation !== 1;
}

/** The contrast-then-gamma curve of one channel value (0..255), unrounded. */
export function channelCurve(v: number, a: Pick<ColourAdjustment, "contrast" | "gamma">): number {
  if (a.contrast !== 1) v = Math.min(255, Math.max(0, (v - 127.5) * a.contrast + 127.5));
  if (a.gamma !== 1) v = 255 * (v / 255) ** (1 / a.gamma);
  return v;
}

/** Linear light in 1/65535 steps to an 8-bit sRGB value (64 KB, built once). */
let encodeTable: Uint8Array | undefined;
const linearToSrgb8 = () => (encodeTable ??= Uint8Array.from({ length: 65536 }, (_, i) => Math.round(linearToSrgb(i / 65535))));

/** Bytes adjustColour allocates: its output, and the encoding table the first time Lab is used. */
export function colourAdjustBytes(pixels: number, channels: number): number {
  return pixels * channels + 65536;
}

// sRGB primaries and D65 white (as libvips converts sRGB to Lab), normalised by the white so Lab is relative to it.
const [XN, ZN] = [0.95047, 1.08883];
const TO_XYZ = [
  0.4124564 / XN, 0.3575761 / XN, 0.1804375 / XN,
  0.2126729, 0.7151522, 0.072175,
  0.0193339 / ZN, 0.119192 / ZN, 0.9503041 / ZN,
];
const FROM_XYZ = [
  3.2404542 * XN, -1.5371385, -0.4985314 * ZN,
  -0.969266 * XN, 1.8760108, 0.041556 * ZN,
  0.0556434 * XN, -0.2040259, 1.0572252 * ZN,
];
const EPSILON = 216 / 24389, KAPPA = 24389 / 27;
const f = (t: number) => (t > EPSILON ? Math.cbrt(t) : (KAPPA * t + 16) / 116);
const fInverse = (t: number) => (t > 6 / 29 ? t * t * t : (116 * t - 16) / KAPPA);

/** A new raster with `a` applied. */
export function adjustColour(src: Raster, a: ColourAdjustment): Raster {
  const { data, channels: c } = src;
  const out = new Uint8Array(data);
  const end = src.width * src.height * c;
  if (a.brightness !== 1 || a.saturation !== 1) {
    const encode = linearToSrgb8(), [kl, kab] = [a.brightness, a.saturation];
    const to8 = (x: number) => encode[x <= 0 ? 0 : x >= 1 ? 65535 : (x * 65535 + 0.5) | 0];
    const m = TO_XYZ, n = FROM_XYZ;
    for (let i = 0; i < end; i += c) {
      const r = SRGB_TO_LINEAR[data[i]], g = SRGB_TO_LINEAR[data[i + 1]], b = SRGB_TO_LINEAR[data[i + 2]];
      const fx = f(m[0] * r + m[1] * g + m[2] * b), fy = f(m[3] * r + m[4] * g + m[5] * b), fz = f(m[6] * r + m[7] * g + m[8] * b);
      // L* = 116·fy − 16, a* = 500·(fx − fy), b* = 200·(fy − fz): scaled, then back through f⁻¹.
      const fy2 = (kl * (116 * fy - 16) + 16) / 116;
      const x = fInverse(fy2 + kab * (fx - fy)), y = fInverse(fy2), z = fInverse(fy2 - kab * (fy - fz));
      out[i] = to8(n[0] * x + n[1] * y + n[2] * z);
      out[i + 1] = to8(n[3] * x + n[4] * y + n[5] * z);
      out[i + 2] = to8(n[6] * x + n[7] * y + n[8] * z);
    }
  }
  if (a.contrast !== 1 || a.gamma !== 1) {
    const curve = Uint8Array.from({ length: 256 }, (_, v) => Math.round(channelCurve(v, a)));
    for (let i = 0; i < end; i += c) {
      out[i] = curve[out[i]];
      out[i + 1] = curve[out[i + 1]];
      out[i + 2] = curve[out[i + 2]];
    }
  }
  return { ...src, data: out };
}
