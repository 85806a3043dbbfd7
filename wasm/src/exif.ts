/**
 * The one EXIF reader: a TIFF structure (EXIF 2.3, TIFF 6.0 §2), optionally behind the "Exif\0\0" prefix that
 * JPEG APP1 always has and some encoders also write into WebP and PNG chunks. Every format module hands its raw
 * EXIF block here; the probe (orientation) and metadata.ts (keep/copyright) read it with the same rules:
 * byte order II or MM, magic 42, IFD0 inside the block, entries read only as far as the block goes.
 * Anything else is "no EXIF" (orientation 1), never an error: metadata never fails a render.
 */
import type { Orientation } from "./raster.ts";

export const TAG_ORIENTATION = 0x0112;
export const TAG_ARTIST = 0x013b;
export const TAG_COPYRIGHT = 0x8298;

export interface Tiff {
  little: boolean;
  view: DataView;
  ifd0: number;
}

export interface IfdEntry {
  /** Offset of the 12-byte entry in the TIFF block. */
  at: number;
  tag: number;
  type: number;
  count: number;
}

/** The TIFF block of an EXIF payload: without the "Exif\0\0" prefix when it has one. */
export function exifTiff(block: Uint8Array): Uint8Array {
  const prefixed = block.length >= 6 && block[0] === 0x45 && block[1] === 0x78 && block[2] === 0x69 && block[3] === 0x66 && block[4] === 0 && block[5] === 0;
  return prefixed ? block.subarray(6) : block;
}

/** Opens a TIFF block (no prefix), or undefined when it is not one we can read. */
export function openTiff(tiff: Uint8Array): Tiff | undefined {
  if (tiff.length < 14) return undefined;
  const little = tiff[0] === 0x49 && tiff[1] === 0x49;
  if (!little && !(tiff[0] === 0x4d && tiff[1] === 0x4d)) return undefined;
  const view = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
  if (view.getUint16(2, little) !== 42) return undefined;
  const ifd0 = view.getUint32(4, little);
  if (ifd0 + 2 > tiff.length) return undefined;
  return { little, view, ifd0 };
}

/** IFD0's entries, as far as they lie inside the block. */
export function* ifd0Entries(t: Tiff): Generator<IfdEntry> {
  const n = t.view.getUint16(t.ifd0, t.little);
  for (let i = 0; i < n; i++) {
    const at = t.ifd0 + 2 + i * 12;
    if (at + 12 > t.view.byteLength) return;
    yield { at, tag: t.view.getUint16(at, t.little), type: t.view.getUint16(at + 2, t.little), count: t.view.getUint32(at + 4, t.little) };
  }
}

/** The Orientation tag (0x0112) of an EXIF block (prefixed or not); 1 when absent or out of range. */
export function exifOrientation(block: Uint8Array | undefined): Orientation {
  const t = block && openTiff(exifTiff(block));
  if (!t) return 1;
  for (const e of ifd0Entries(t)) {
    if (e.tag !== TAG_ORIENTATION) continue;
    const value = t.view.getUint16(e.at + 8, t.little);
    return value >= 1 && value <= 8 ? (value as Orientation) : 1;
  }
  return 1;
}
