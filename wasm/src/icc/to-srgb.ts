/**
 * Conversion of an ICC-tagged raster to sRGB as sharp does it (lcms, perceptual intent, which for matrix/TRC
 * profiles is relative colorimetric, clipped; with black point compensation for LUT profiles, which lcms forces
 * when the other side is a v4 profile such as sharp's sRGB), built once per source and applied per pixel with
 * tables only:
 * - matrix/TRC profiles (Display P3, Adobe RGB, ProPhoto): each 8-bit channel linearised by a 256-entry table of
 *   its TRC, one 3×3 matrix (the profile's D50 colorants, then the inverse of sRGB's Bradford-adapted D50
 *   matrix), and a 64 K-entry table of the sRGB curve. Exact to the table resolution, ~0.3 KB + 64 KB, and no
 *   cheaper 3D LUT would be more accurate: the matrix step is already separable.
 * - LUT profiles (CMYK, RGB with A2B): the profile's whole A2B pipeline to PCS, PCS to sRGB, sampled once on a
 *   composite grid (33³ for 3 inputs, 17⁴ for 4) and interpolated multilinearly per pixel.
 * A profile that is sRGB already (colorants and curves within a level of sRGB's) gives no conversion at all.
 */
import { CodecError } from "../errors.ts";
import type { Raster } from "../raster.ts";
import { evalCurve, type Curve, type IccProfile, type LutTransform, type Xyz } from "./profile.ts";

/** D50, the profile connection space's white (ICC.1 7.2.16, as s15Fixed16 rounds it). */
const D50: Xyz = [0.9642, 1, 0.8249];

type Mat3 = [number, number, number, number, number, number, number, number, number];

const mul = (a: Mat3, b: Mat3): Mat3 => {
  const o = new Array(9).fill(0) as Mat3;
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) for (let k = 0; k < 3; k++) o[r * 3 + c] += a[r * 3 + k] * b[k * 3 + c];
  return o;
};
const apply = (m: Mat3, v: Xyz): Xyz => [m[0] * v[0] + m[1] * v[1] + m[2] * v[2], m[3] * v[0] + m[4] * v[1] + m[5] * v[2], m[6] * v[0] + m[7] * v[1] + m[8] * v[2]];
function invert(m: Mat3): Mat3 {
  const [a, b, c, d, e, f, g, h, i] = m;
  const A = e * i - f * h, B = -(d * i - f * g), C = d * h - e * g;
  const det = a * A + b * B + c * C;
  if (Math.abs(det) < 1e-12) throw new CodecError("corrupt", "ICC profile: its colorant matrix is singular");
  return [A / det, -(b * i - c * h) / det, (b * f - c * e) / det, B / det, (a * i - c * g) / det, -(a * f - c * d) / det, C / det, -(a * h - b * g) / det, (a * e - b * d) / det];
}

/** RGB → XYZ for primaries and a white point given as CIE xy. */
function primariesMatrix(xy: [number, number][], white: [number, number]): Mat3 {
  const toXyz = ([x, y]: [number, number]): Xyz => [x / y, 1, (1 - x - y) / y];
  const [r, g, b] = xy.map(toXyz);
  const m: Mat3 = [r[0], g[0], b[0], r[1], g[1], b[1], r[2], g[2], b[2]];
  const s = apply(invert(m), toXyz(white));
  return [m[0] * s[0], m[1] * s[1], m[2] * s[2], m[3] * s[0], m[4] * s[1], m[5] * s[2], m[6] * s[0], m[7] * s[1], m[8] * s[2]];
}

const BRADFORD: Mat3 = [0.8951, 0.2664, -0.1614, -0.7502, 1.7135, 0.0367, 0.0389, -0.0685, 1.0296];

/** Bradford adaptation of XYZ from white `from` to white `to`. */
export function bradford(from: Xyz, to: Xyz): Mat3 {
  const s = apply(BRADFORD, from), d = apply(BRADFORD, to);
  return mul(invert(BRADFORD), mul([d[0] / s[0], 0, 0, 0, d[1] / s[1], 0, 0, 0, d[2] / s[2]], BRADFORD));
}

/** sRGB (IEC 61966-2-1) linear RGB → XYZ, adapted to D50 with Bradford as an ICC sRGB profile's colorants are. */
export const SRGB_TO_XYZ_D50: Mat3 = mul(
  bradford([0.3127 / 0.329, 1, (1 - 0.3127 - 0.329) / 0.329], D50),
  primariesMatrix([[0.64, 0.33], [0.3, 0.6], [0.15, 0.06]], [0.3127, 0.329]),
);
const XYZ_D50_TO_SRGB = invert(SRGB_TO_XYZ_D50);

export const srgbEncode = (v: number) => (v <= 0.0031308 ? 12.92 * v : 1.055 * Math.pow(v, 1 / 2.4) - 0.055);
export const srgbDecode = (v: number) => (v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4));

/** Lab (D50) → XYZ (D50). */
function labToXyz(L: number, a: number, b: number): Xyz {
  const fy = (L + 16) / 116, fx = fy + a / 500, fz = fy - b / 200;
  const inv = (t: number) => (t > 6 / 29 ? t * t * t : 3 * (6 / 29) ** 2 * (t - 4 / 29));
  return [D50[0] * inv(fx), D50[1] * inv(fy), D50[2] * inv(fz)];
}

/** A conversion of one source's pixels to sRGB, built once and applied to every target that needs it. */
export interface SrgbConversion {
  /** What the conversion is from, for logs and reports. */
  readonly from: string;
  /** Bytes of its tables, for the render plan. */
  readonly tableBytes: number;
  /** Converts an RGB(A) raster's colour channels in place (alpha untouched). */
  convertInPlace(raster: Raster): void;
}

const ENCODE_STEPS = 65535;

/**
 * The conversion of `profile`'s RGB pixels to sRGB; undefined when it would do nothing (the profile is sRGB)
 * or the profile describes something other than RGB (a CMYK source is converted at its decode instead, icc/cmyk.ts).
 */
export function rgbToSrgb(profile: IccProfile): SrgbConversion | undefined {
  if (profile.colourSpace !== "RGB") return undefined;
  if (profile.matrix && profile.trc) return matrixConversion(profile);
  if (profile.a2b && profile.a2b.inputs === 3) return lutConversion(profile.a2b, profile.description ?? "RGB LUT profile");
  return undefined;
}

function matrixConversion(profile: IccProfile): SrgbConversion | undefined {
  const { red, green, blue } = profile.matrix!;
  const toSrgb = mul(XYZ_D50_TO_SRGB, [red[0], green[0], blue[0], red[1], green[1], blue[1], red[2], green[2], blue[2]]);
  const linear = profile.trc!.map((curve) => {
    const t = new Float32Array(256);
    for (let i = 0; i < 256; i++) t[i] = evalCurve(curve, i / 255);
    return t;
  });
  if (isIdentity(toSrgb) && linear.every(matchesSrgbCurve)) return undefined;
  const encode = encodeTable();
  const [m0, m1, m2, m3, m4, m5, m6, m7, m8] = toSrgb.map((v) => v * ENCODE_STEPS);
  const [lr, lg, lb] = linear;
  return {
    from: profile.description ?? "RGB matrix/TRC profile",
    tableBytes: 3 * 256 * 4 + encode.byteLength,
    convertInPlace({ data, channels }) {
      const top = ENCODE_STEPS;
      for (let i = 0; i < data.length; i += channels) {
        const r = lr[data[i]], g = lg[data[i + 1]], b = lb[data[i + 2]];
        // Out-of-gamut colour is clipped per channel, as lcms does for matrix-shaper profiles.
        let x = (m0 * r + m1 * g + m2 * b + 0.5) | 0, y = (m3 * r + m4 * g + m5 * b + 0.5) | 0, z = (m6 * r + m7 * g + m8 * b + 0.5) | 0;
        x = x < 0 ? 0 : x > top ? top : x;
        y = y < 0 ? 0 : y > top ? top : y;
        z = z < 0 ? 0 : z > top ? top : z;
        data[i] = encode[x]; data[i + 1] = encode[y]; data[i + 2] = encode[z];
      }
    },
  };
}

function isIdentity(m: Mat3): boolean {
  return m.every((v, i) => Math.abs(v - (i % 4 === 0 ? 1 : 0)) < 0.003);
}

/** The curve gives sRGB's linear values within half a level at every 8-bit input. */
function matchesSrgbCurve(linear: Float32Array): boolean {
  for (let i = 0; i < 256; i++) if (Math.abs(srgbEncode(linear[i]) * 255 - i) > 0.5) return false;
  return true;
}

/** Linear light in 1/65535 steps → 8-bit sRGB. */
function encodeTable(): Uint8Array {
  const t = new Uint8Array(ENCODE_STEPS + 1);
  for (let i = 0; i <= ENCODE_STEPS; i++) t[i] = Math.round(srgbEncode(i / ENCODE_STEPS) * 255);
  return t;
}

/** Grid points per axis of the composite LUT: 33³ (3 inputs) keeps interpolation error far under a level; 17⁴ for CMYK. */
const COMPOSITE_GRID = [0, 255, 129, 33, 17];

/** A LUT profile's A2B pipeline, PCS and sRGB encoding sampled onto one grid of 8-bit-valued sRGB nodes. */
export interface CompositeLut {
  inputs: number;
  grid: number;
  /** sRGB in [0, 255] (float, for interpolation), 3 per node, the last input varying fastest. */
  nodes: Float32Array;
}

/** Samples the whole conversion of `lut` (device values in [0, 1] → 8-bit sRGB) on a composite grid. */
export function compositeLut(lut: LutTransform): CompositeLut {
  const n = lut.inputs, g = COMPOSITE_GRID[n];
  const count = g ** n;
  const nodes = new Float32Array(count * 3);
  const input = new Array<number>(n);
  const black = blackPoint(lut);
  for (let node = 0; node < count; node++) {
    for (let k = n - 1, rest = node; k >= 0; k--, rest = Math.floor(rest / g)) input[k] = (rest % g) / (g - 1);
    const pcs = evalLut(lut, input);
    // Black point compensation (lcms's formula, sRGB's black being 0): the profile's black maps to sRGB black.
    const xyz = pcsToXyz(lut.pcsEncoding, pcs).map((v, c) => (D50[c] * (v - black[c])) / (D50[c] - black[c])) as Xyz;
    const rgb = apply(XYZ_D50_TO_SRGB, xyz);
    for (let c = 0; c < 3; c++) nodes[node * 3 + c] = 255 * srgbEncode(Math.min(1, Math.max(0, rgb[c])));
  }
  return { inputs: n, grid: g, nodes };
}

/**
 * The profile's black as lcms detects it for a v2 input profile: the darkest colorant combination (full ink for
 * CMYK, 0 for RGB) through the A2B, made neutral (a = b = 0) with L at most 50.
 */
function blackPoint(lut: LutTransform): Xyz {
  const darkest = new Array<number>(lut.inputs).fill(lut.inputs === 4 ? 1 : 0);
  const [, Y] = pcsToXyz(lut.pcsEncoding, evalLut(lut, darkest));
  const f = (t: number) => (t > (6 / 29) ** 3 ? Math.cbrt(t) : t / (3 * (6 / 29) ** 2) + 4 / 29);
  const L = Math.min(50, Math.max(0, 116 * f(Y / D50[1]) - 16));
  return labToXyz(L, 0, 0);
}

function pcsToXyz(encoding: LutTransform["pcsEncoding"], [a, b, c]: number[]): Xyz {
  switch (encoding) {
    case "xyz": return [a * 65535 / 32768, b * 65535 / 32768, c * 65535 / 32768];
    case "lab-v2": return labToXyz(a * 65535 / 65280 * 100, b * 65535 / 256 - 128, c * 65535 / 256 - 128);
    case "lab-v4": return labToXyz(a * 100, b * 255 - 128, c * 255 - 128);
  }
}

/** The A2B pipeline at one input: curves, CLUT (multilinear), M curves and matrix, B curves; PCS in [0, 1]. */
export function evalLut(lut: LutTransform, input: number[]): number[] {
  const x = input.map((v, i) => evalCurve(lut.inputCurves[i], v));
  let out = interpolate(lut.clut, lut.grid, lut.outputs, x);
  if (lut.matrix && lut.mCurves) {
    const m = lut.matrix, v = out.map((o, i) => evalCurve(lut.mCurves![i], o));
    out = [0, 1, 2].map((r) => m[r * 3] * v[0] + m[r * 3 + 1] * v[1] + m[r * 3 + 2] * v[2] + m[9 + r]);
  }
  return out.map((o, i) => evalCurve(lut.outputCurves[i], o));
}

/** Multilinear interpolation in an n-D grid (ICC order: the last input varies fastest). */
function interpolate(clut: Float32Array, grid: number[], outputs: number, x: number[]): number[] {
  const n = grid.length;
  const base = new Array<number>(n), frac = new Array<number>(n), stride = new Array<number>(n);
  let s = outputs;
  for (let k = n - 1; k >= 0; k--) {
    stride[k] = s;
    s *= grid[k];
    const pos = Math.min(1, Math.max(0, x[k])) * (grid[k] - 1);
    base[k] = Math.min(grid[k] - 2, Math.floor(pos));
    frac[k] = pos - base[k];
  }
  const out = new Array<number>(outputs).fill(0);
  for (let corner = 0; corner < 1 << n; corner++) {
    let w = 1, at = 0;
    for (let k = 0; k < n; k++) {
      const bit = (corner >> (n - 1 - k)) & 1;
      w *= bit ? frac[k] : 1 - frac[k];
      at += (base[k] + bit) * stride[k];
    }
    if (w === 0) continue;
    for (let c = 0; c < outputs; c++) out[c] += w * clut[at + c];
  }
  return out;
}

function lutConversion(lut: LutTransform, from: string): SrgbConversion {
  const composite = compositeLut(lut);
  return {
    from,
    tableBytes: composite.nodes.byteLength,
    convertInPlace({ data, channels }) {
      const { nodes, grid } = composite;
      const scale = (grid - 1) / 255, s1 = 3, s2 = 3 * grid, s3 = 3 * grid * grid;
      for (let i = 0; i < data.length; i += channels) {
        const pr = data[i] * scale, pg = data[i + 1] * scale, pb = data[i + 2] * scale;
        const ir = Math.min(grid - 2, pr | 0), ig = Math.min(grid - 2, pg | 0), ib = Math.min(grid - 2, pb | 0);
        const fr = pr - ir, fg = pg - ig, fb = pb - ib;
        const at = ir * s3 + ig * s2 + ib * s1;
        for (let c = 0; c < 3; c++) {
          const p = at + c;
          const c00 = nodes[p] + (nodes[p + s1] - nodes[p]) * fb;
          const c01 = nodes[p + s2] + (nodes[p + s2 + s1] - nodes[p + s2]) * fb;
          const c10 = nodes[p + s3] + (nodes[p + s3 + s1] - nodes[p + s3]) * fb;
          const c11 = nodes[p + s3 + s2] + (nodes[p + s3 + s2 + s1] - nodes[p + s3 + s2]) * fb;
          const c0 = c00 + (c01 - c00) * fg, c1 = c10 + (c11 - c10) * fg;
          data[i + c] = c0 + (c1 - c0) * fr + 0.5;
        }
      }
    },
  };
}

/**
 * CMYK ink amounts (4 bytes a pixel, 0 = no ink, 255 = full) → RGB (3 bytes a pixel) through a CMYK profile's
 * A2B: the composite 17⁴ grid, interpolated quadrilinearly. The reference for icc/cmyk.ts's faster in-place one.
 */
export function cmykToSrgb(composite: CompositeLut, cmyk: Uint8Array, rgb: Uint8Array): void {
  if (composite.inputs !== 4) throw new CodecError("corrupt", "ICC profile: a CMYK profile's A2B must have 4 inputs");
  const { nodes, grid } = composite;
  const scale = (grid - 1) / 255;
  const strides = [3 * grid ** 3, 3 * grid ** 2, 3 * grid, 3];
  const base = [0, 0, 0, 0], frac = [0, 0, 0, 0];
  for (let i = 0, o = 0; i < cmyk.length; i += 4, o += 3) {
    let at = 0;
    for (let k = 0; k < 4; k++) {
      const pos = cmyk[i + k] * scale, b = Math.min(grid - 2, pos | 0);
      base[k] = b;
      frac[k] = pos - b;
      at += b * strides[k];
    }
    let r = 0, g = 0, bl = 0;
    for (let corner = 0; corner < 16; corner++) {
      let w = 1, p = at;
      for (let k = 0; k < 4; k++) {
        if ((corner >> (3 - k)) & 1) { w *= frac[k]; p += strides[k]; } else w *= 1 - frac[k];
      }
      if (w === 0) continue;
      r += w * nodes[p]; g += w * nodes[p + 1]; bl += w * nodes[p + 2];
    }
    rgb[o] = r + 0.5; rgb[o + 1] = g + 0.5; rgb[o + 2] = bl + 0.5;
  }
}

export type { Curve };
