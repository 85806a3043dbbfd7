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
import { cmykToSrgb, compositeLut, type CompositeLut } from "./to-srgb.ts";

/** Bytes of the composite grid (17⁴ nodes, 3 float32 each), for the decoder's memory model. */
export const CMYK_TABLE_BYTES = 17 ** 4 * 3 * 4;

/** The conversion of one source's CMYK ink to sRGB, built from its profile once. */
export interface CmykConversion {
  /** What the conversion is from, for logs and reports. */
  readonly from: string;
  readonly tableBytes: number;
  /**
   * Converts a CMYK ink raster (4 bytes a pixel: C, M, Y, K, 0 = no ink) to sRGB in place: the returned RGB raster
   * views the first three quarters of the same buffer, so the decode's memory is all it holds.
   */
  toSrgb(ink: Raster): Raster;
}

/** The conversion for a CMYK profile with a 4-input A2B; undefined for any other profile. */
export function cmykConversion(profile: IccProfile): CmykConversion | undefined {
  const lut = profile.a2b;
  if (profile.colourSpace !== "CMYK" || !lut || lut.inputs !== 4) return undefined;
  // Sampled at the first decode, not when the profile is read: a render refused by its plan never pays for it.
  let composite: CompositeLut | undefined;
  return {
    from: profile.description ?? "CMYK profile",
    tableBytes: CMYK_TABLE_BYTES,
    toSrgb(ink) {
      composite ??= compositeLut(lut);
      const { width, height } = ink;
      // Pixel p is read (bytes 4p..4p+3) before it is written (3p..3p+2), and never over a later pixel's bytes.
      const rgb = ink.data.subarray(0, width * height * 3);
      cmykToSrgb(composite, ink.data.subarray(0, width * height * 4), rgb);
      return { data: rgb, width, height, channels: 3 };
    },
  };
}
