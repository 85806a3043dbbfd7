/**
 * CMYK sources through their embedded CMYK profile (a press profile's A2B LUT, sampled on the composite 17⁴ grid
 * of to-srgb.ts). Our JPEG decoder hands such a file back as CMYK ink (4 bytes a pixel), and this converts it to
 * sRGB right after the decode, in the decoded raster's own buffer. Right after the decode rather than after a
 * CMYK-aware resize: every later step (orient, resize with its alpha premultiplication, trim=border, the
 * placeholder) reads 4 channels as RGBA, and the decoder has already shrunk the image on load (a 1/2–1/8 DCT
 * scale), so the conversion's cost is per decoded pixel, never per full-size pixel, and it allocates nothing
 * past its tables. Untagged CMYK keeps the decoder's naive conversion.
 */
import type { Raster } from "../raster.ts";
import type { IccProfile } from "./profile.ts";
import { compositeLut, type CompositeLut } from "./to-srgb.ts";

/** Bytes of the composite grid (17⁴ nodes, 3 float32 each), for the decoder's memory model. */
export const CMYK_TABLE_BYTES = 17 ** 4 * 3 * 4;

/** The conversion of one source's CMYK ink to sRGB through its profile. */
export interface CmykConversion {
  /** What the conversion is from, for logs and reports. */
  readonly from: string;
  /** Bytes of its tables while it runs, for the decoder's memory model (CMYK_TABLE_BYTES). */
  readonly tableBytes: number;
  /**
   * Converts a CMYK ink raster (4 bytes a pixel: C, M, Y, K, 0 = no ink) to sRGB in place: the returned RGB raster
   * views the first three quarters of the same buffer, so the decode's memory is all it holds. Called once a
   * render, at its one decode.
   */
  toSrgb(ink: Raster): Raster;
}

/** The conversion for a CMYK profile with a 4-input A2B; undefined for any other profile. */
export function cmykConversion(profile: IccProfile): CmykConversion | undefined {
  const lut = profile.a2b;
  if (profile.colourSpace !== "CMYK" || !lut || lut.inputs !== 4) return undefined;
  return {
    from: profile.description ?? "CMYK profile",
    tableBytes: CMYK_TABLE_BYTES,
    toSrgb(ink) {
      // Sampled at the decode, not when the profile is read (a render refused by its plan never pays for it), and
      // let go after it: the plan counts the tables in the decode phase only.
      const { width, height } = ink;
      inkToSrgbInPlace(compositeLut(lut), ink.data, width * height);
      return { data: ink.data.subarray(0, width * height * 3), width, height, channels: 3 };
    },
  };
}

/**
 * `pixels` CMYK ink pixels at the start of `data` → sRGB packed at its start (pixel p is read, bytes 4p..4p+3,
 * before it is written, 3p..3p+2, and no write reaches a later pixel's bytes). Interpolated as lcms does CMYK:
 * tetrahedral in C, M, Y on the two K planes around the pixel's K, then linear in K — 8 nodes a pixel instead of
 * quadrilinear's 16, and about 4× faster (see to-srgb.ts cmykToSrgb for the plain quadrilinear one).
 */
export function inkToSrgbInPlace(composite: CompositeLut, data: Uint8Array, pixels: number): void {
  const { nodes, grid } = composite;
  const scale = (grid - 1) / 255, top = grid - 2;
  const sK = 3, sY = 3 * grid, sM = 3 * grid * grid, sC = 3 * grid * grid * grid;
  for (let p = 0, i = 0, o = 0; p < pixels; p++, i += 4, o += 3) {
    const pc = data[i] * scale, pm = data[i + 1] * scale, py = data[i + 2] * scale, pk = data[i + 3] * scale;
    const ic = Math.min(top, pc | 0), im = Math.min(top, pm | 0), iy = Math.min(top, py | 0), ik = Math.min(top, pk | 0);
    const fc = pc - ic, fm = pm - im, fy = py - iy, fk = pk - ik;
    // The tetrahedron: walk the axes from the largest fraction to the smallest.
    let s1: number, s2: number, f1: number, f2: number, f3: number;
    if (fc >= fm) {
      if (fm >= fy) { s1 = sC; s2 = sC + sM; f1 = fc; f2 = fm; f3 = fy; }
      else if (fc >= fy) { s1 = sC; s2 = sC + sY; f1 = fc; f2 = fy; f3 = fm; }
      else { s1 = sY; s2 = sY + sC; f1 = fy; f2 = fc; f3 = fm; }
    } else if (fc >= fy) { s1 = sM; s2 = sM + sC; f1 = fm; f2 = fc; f3 = fy; }
    else if (fm >= fy) { s1 = sM; s2 = sM + sY; f1 = fm; f2 = fy; f3 = fc; }
    else { s1 = sY; s2 = sY + sM; f1 = fy; f2 = fm; f3 = fc; }
    const s3 = sC + sM + sY;
    const a = ic * sC + im * sM + iy * sY + ik * sK, b = a + sK;
    for (let c = 0; c < 3; c++) {
      const a0 = nodes[a + c], a1 = nodes[a + s1 + c], a2 = nodes[a + s2 + c], a3 = nodes[a + s3 + c];
      const b0 = nodes[b + c], b1 = nodes[b + s1 + c], b2 = nodes[b + s2 + c], b3 = nodes[b + s3 + c];
      const lo = a0 + f1 * (a1 - a0) + f2 * (a2 - a1) + f3 * (a3 - a2);
      const hi = b0 + f1 * (b1 - b0) + f2 * (b2 - b1) + f3 * (b3 - b2);
      data[o + c] = lo + (hi - lo) * fk + 0.5;
    }
  }
}
