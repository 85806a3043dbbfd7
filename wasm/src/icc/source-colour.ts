/**
 * Colour management of one render: the source's embedded profile, read and parsed once (its format module finds
 * the bytes), the conversion to sRGB built from it once, and per target whether it is converted (the default)
 * or keeps the profile instead (metadata=keep into a format that carries one).
 */
import type { RenderTarget } from "../targets.ts";
import type { OutputFormat } from "../vocabulary.ts";
import { CARRIES_ICC_PROFILE, embedIccInJpeg, embedIccInPng, embedIccInWebp } from "./containers.ts";
import { parseIccProfile, type IccProfile } from "./profile.ts";
import { rgbToSrgb, type SrgbConversion } from "./to-srgb.ts";
import { cmykConversion, type CmykConversion } from "./cmyk.ts";

export interface SourceColour {
  /** The embedded profile, when there is one and it parses. */
  profile?: IccProfile;
  /** Undefined when there is nothing to convert: untagged, sRGB already, or a profile we cannot apply. */
  conversion?: SrgbConversion;
  /** A CMYK profile's conversion of the decoder's CMYK ink to sRGB (icc/cmyk.ts), applied right after the decode. */
  cmyk?: CmykConversion;
  /** Why an embedded profile was ignored (unreadable), for logs; the image renders as if untagged. */
  ignored?: string;
}

/**
 * Reads the source's profile bytes (from its format module's reading) into the render's colour management.
 * `cmykPixels`: the source stores CMYK (a four-component JPEG), which only a CMYK profile describes.
 */
export function sourceColour(iccBytes: Uint8Array | undefined, cmykPixels = false): SourceColour {
  if (!iccBytes) return {};
  let profile: IccProfile;
  try {
    profile = parseIccProfile(iccBytes);
  } catch (e) {
    // Browsers render an image with a broken profile as untagged; so do we, rather than fail the image.
    return { ignored: e instanceof Error ? e.message : String(e) };
  }
  // A profile for other pixels than the file's is ignored, as libvips and browsers ignore it.
  if ((profile.colourSpace === "CMYK") !== cmykPixels) {
    return { ignored: `a ${profile.colourSpace} profile on ${cmykPixels ? "CMYK" : "non-CMYK"} pixels` };
  }
  try {
    if (cmykPixels) return { profile, cmyk: cmykConversion(profile) };
    return { profile, conversion: rgbToSrgb(profile) };
  } catch (e) {
    return { profile, ignored: e instanceof Error ? e.message : String(e) };
  }
}

/** The target keeps the source's profile (and its pixels as they are) instead of being converted to sRGB. */
export function keepsProfile(colour: SourceColour, target: RenderTarget): boolean {
  // A CMYK profile cannot describe the RGB pixels every output has: those are converted to sRGB (or naive) instead.
  const describesOutput = colour.profile !== undefined && colour.profile.colourSpace !== "CMYK";
  return describesOutput && target.metadata === "keep" && CARRIES_ICC_PROFILE[target.format];
}

/** The target's pixels are converted to sRGB. */
export function convertsToSrgb(colour: SourceColour, target: RenderTarget): boolean {
  return colour.conversion !== undefined && !keepsProfile(colour, target);
}

/** The encoded output with the source's profile in it, when the target keeps it; else as it is. */
export function withKeptProfile(
  colour: SourceColour, target: RenderTarget, encoded: Uint8Array, image: { width: number; height: number; channels: 3 | 4 },
): Uint8Array {
  if (!keepsProfile(colour, target)) return encoded;
  const icc = colour.profile!.bytes;
  const format: OutputFormat = target.format;
  switch (format) {
    case "jpeg": return embedIccInJpeg(encoded, icc);
    case "png": return embedIccInPng(encoded, icc);
    case "webp": return embedIccInWebp(encoded, icc, image.width, image.height, image.channels === 4);
    default: return encoded;
  }
}
