/**
 * EXIF carried from the source into JPEG and WebP outputs (`metadata: "keep" | "copyright"`).
 * keep: the source's EXIF with Orientation reset to 1 (pixels are already oriented).
 * copyright: a new minimal EXIF holding only the Copyright and Artist tags.
 * Other formats, and "none", carry nothing. Each format module finds its source's EXIF (JPEG APP1, PNG eXIf,
 * WebP EXIF chunk, AVIF Exif item); exif.ts reads it.
 */
import { TAG_ARTIST, TAG_COPYRIGHT, TAG_ORIENTATION, ifd0Entries, openTiff } from "./exif.ts";
import type { MetadataMode } from "./vocabulary.ts";
import { VP8X_ALPHA, VP8X_EXIF, chunkBytes, riff } from "./codecs/webp-animation.ts";

/** The EXIF to write for a metadata mode, or undefined for none. */
export function exifForOutput(exif: Uint8Array | undefined, mode: MetadataMode): Uint8Array | undefined {
  if (!exif || mode === "none") return undefined;
  const t = openTiff(exif);
  if (!t) return undefined;
  if (mode === "keep") {
    const copy = exif.slice();
    const ct = openTiff(copy)!;
    for (const e of ifd0Entries(ct)) {
      if (e.tag === TAG_ORIENTATION && e.type === 3) ct.view.setUint16(e.at + 8, 1, ct.little);
    }
    return copy;
  }
  const kept: Array<{ tag: number; value: Uint8Array }> = [];
  for (const e of ifd0Entries(t)) {
    if ((e.tag !== TAG_COPYRIGHT && e.tag !== TAG_ARTIST) || e.type !== 2) continue;
    const offset = e.count <= 4 ? e.at + 8 : t.view.getUint32(e.at + 8, t.little);
    if (offset + e.count > exif.length) continue;
    kept.push({ tag: e.tag, value: exif.subarray(offset, offset + e.count) });
  }
  if (kept.length === 0) return undefined;
  kept.sort((a, b) => a.tag - b.tag);
  // Little-endian TIFF: header, IFD0 with the kept entries, then their values.
  const ifdSize = 2 + kept.length * 12 + 4;
  const dataSize = kept.reduce((n, k) => n + (k.value.length > 4 ? k.value.length + (k.value.length & 1) : 0), 0);
  const out = new Uint8Array(8 + ifdSize + dataSize);
  const v = new DataView(out.buffer);
  out.set([0x49, 0x49, 42, 0, 8, 0, 0, 0]);
  v.setUint16(8, kept.length, true);
  let data = 8 + ifdSize;
  kept.forEach((k, i) => {
    const at = 10 + i * 12;
    v.setUint16(at, k.tag, true);
    v.setUint16(at + 2, 2, true);
    v.setUint32(at + 4, k.value.length, true);
    if (k.value.length <= 4) out.set(k.value, at + 8);
    else {
      v.setUint32(at + 8, data, true);
      out.set(k.value, data);
      data += k.value.length + (k.value.length & 1);
    }
  });
  return out;
}

/** Inserts EXIF as an APP1 segment after SOI (and after a JFIF APP0, which must come first). */
export function embedExifInJpeg(jpeg: Uint8Array, tiff: Uint8Array): Uint8Array {
  const payload = 6 + tiff.length;
  if (payload + 2 > 0xffff) return jpeg; // larger EXIF needs multi-segment extensions; drop rather than break
  let at = 2;
  if (jpeg[2] === 0xff && jpeg[3] === 0xe0) at = 4 + ((jpeg[4] << 8) | jpeg[5]);
  const out = new Uint8Array(jpeg.length + 4 + payload);
  out.set(jpeg.subarray(0, at));
  out.set([0xff, 0xe1, (payload + 2) >> 8, (payload + 2) & 255, 0x45, 0x78, 0x69, 0x66, 0, 0], at);
  out.set(tiff, at + 10);
  out.set(jpeg.subarray(at), at + 10 + tiff.length);
  return out;
}

/** Adds an EXIF chunk to a WebP, converting a simple (VP8/VP8L) file to the extended (VP8X) layout. */
export function embedExifInWebp(webp: Uint8Array, tiff: Uint8Array, width: number, height: number, hasAlpha: boolean): Uint8Array {
  // EXIF goes after the image data, as libwebp's muxer orders it.
  return withWebpChunk(webp, "EXIF", tiff, VP8X_EXIF, "last", { width, height, hasAlpha });
}

/**
 * `webp` with one more chunk, `where` right after VP8X or after everything, and `flag` set in VP8X: a simple
 * (VP8/VP8L) file is converted to the extended layout first, with a VP8X of `size` (and its alpha flag).
 */
export function withWebpChunk(
  webp: Uint8Array,
  type: string,
  body: Uint8Array,
  flag: number,
  where: "after-vp8x" | "last",
  size: { width: number; height: number; hasAlpha: boolean },
): Uint8Array {
  let vp8x: Uint8Array;
  let rest: Uint8Array;
  if (String.fromCharCode(webp[12], webp[13], webp[14], webp[15]) === "VP8X") {
    vp8x = webp.slice(12, 30);
    rest = webp.subarray(30);
  } else {
    const fields = new Uint8Array(10);
    fields[0] = size.hasAlpha ? VP8X_ALPHA : 0;
    const w = size.width - 1, h = size.height - 1;
    fields.set([w & 255, (w >> 8) & 255, (w >> 16) & 255, h & 255, (h >> 8) & 255, (h >> 16) & 255], 4);
    vp8x = chunkBytes("VP8X", fields);
    rest = webp.subarray(12);
  }
  vp8x[8] |= flag;
  const added = chunkBytes(type, body);
  return riff(where === "after-vp8x" ? [vp8x, added, rest] : [vp8x, rest, added]);
}
