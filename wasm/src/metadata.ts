/**
 * EXIF carried from the source into JPEG and WebP outputs (`metadata: "keep" | "copyright"`).
 * keep: the source's EXIF with Orientation reset to 1 (pixels are already oriented).
 * copyright: a new minimal EXIF holding only the Copyright and Artist tags.
 * Other formats, and "none", carry nothing. Sources: JPEG APP1, PNG eXIf, WebP EXIF chunk, AVIF Exif item.
 */
import { readJpegMarkers } from "./jpeg-markers.ts";

const TAG_ORIENTATION = 0x0112;
const TAG_ARTIST = 0x013b;
const TAG_COPYRIGHT = 0x8298;

interface Tiff {
  little: boolean;
  view: DataView;
  ifd0: number;
}

function openTiff(tiff: Uint8Array): Tiff | undefined {
  if (tiff.length < 14) return undefined;
  const little = tiff[0] === 0x49 && tiff[1] === 0x49;
  if (!little && !(tiff[0] === 0x4d && tiff[1] === 0x4d)) return undefined;
  const view = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
  if (view.getUint16(2, little) !== 42) return undefined;
  const ifd0 = view.getUint32(4, little);
  if (ifd0 + 2 > tiff.length) return undefined;
  return { little, view, ifd0 };
}

function* entries(t: Tiff): Generator<{ at: number; tag: number; type: number; count: number }> {
  const n = t.view.getUint16(t.ifd0, t.little);
  for (let i = 0; i < n; i++) {
    const at = t.ifd0 + 2 + i * 12;
    if (at + 12 > t.view.byteLength) return;
    yield { at, tag: t.view.getUint16(at, t.little), type: t.view.getUint16(at + 2, t.little), count: t.view.getUint32(at + 4, t.little) };
  }
}

/** The source's EXIF as TIFF bytes, for the formats that carry it; undefined when absent. */
export function extractExif(input: Uint8Array, format: string): Uint8Array | undefined {
  if (format === "jpeg") return readJpegMarkers(input).exif;
  if (format === "png") {
    for (let p = 8; p + 12 <= input.length;) {
      const len = ((input[p] << 24) | (input[p + 1] << 16) | (input[p + 2] << 8) | input[p + 3]) >>> 0;
      const type = String.fromCharCode(input[p + 4], input[p + 5], input[p + 6], input[p + 7]);
      if (type === "eXIf") return input.subarray(p + 8, p + 8 + len);
      if (type === "IDAT" || type === "IEND") return undefined;
      p += 12 + len;
    }
  }
  if (format === "webp") {
    for (let p = 12; p + 8 <= input.length;) {
      const type = String.fromCharCode(input[p], input[p + 1], input[p + 2], input[p + 3]);
      const len = (input[p + 4] | (input[p + 5] << 8) | (input[p + 6] << 16) | (input[p + 7] << 24)) >>> 0;
      if (type === "EXIF") {
        const body = input.subarray(p + 8, p + 8 + len);
        const prefixed = body.length > 6 && body[0] === 0x45 && body[1] === 0x78 && body[4] === 0 && body[5] === 0;
        return prefixed ? body.subarray(6) : body;
      }
      p += 8 + len + (len & 1);
    }
  }
  if (format === "avif") {
    try {
      return avifExif(input);
    } catch {
      return undefined; // a malformed box tree only costs the metadata, never the render
    }
  }
  return undefined;
}

/** ISOBMFF boxes directly inside [start, end): type and payload range. */
function* boxes(b: DataView, start: number, end: number): Generator<{ type: string; body: number; end: number }> {
  for (let p = start; p + 8 <= end;) {
    let size = b.getUint32(p);
    let header = 8;
    if (size === 1) {
      size = Number(b.getBigUint64(p + 8));
      header = 16;
    } else if (size === 0) size = end - p;
    if (size < header || p + size > end) return;
    const type = String.fromCharCode(b.getUint8(p + 4), b.getUint8(p + 5), b.getUint8(p + 6), b.getUint8(p + 7));
    yield { type, body: p + header, end: p + size };
    p += size;
  }
}

/** The Exif item of an AVIF (HEIF): `meta` → `iinf` names the item, `iloc` locates it. */
function avifExif(input: Uint8Array): Uint8Array | undefined {
  const v = new DataView(input.buffer, input.byteOffset, input.byteLength);
  const meta = [...boxes(v, 0, input.length)].find((x) => x.type === "meta");
  if (!meta) return undefined;
  const inner = [...boxes(v, meta.body + 4, meta.end)]; // meta is a full box: skip version and flags
  const iinf = inner.find((x) => x.type === "iinf");
  const iloc = inner.find((x) => x.type === "iloc");
  if (!iinf || !iloc) return undefined;
  let exifId = -1;
  const iinfVersion = v.getUint8(iinf.body);
  for (const infe of boxes(v, iinf.body + 4 + (iinfVersion === 0 ? 2 : 4), iinf.end)) {
    if (infe.type !== "infe") continue;
    const version = v.getUint8(infe.body);
    if (version < 2) continue;
    const id = version === 2 ? v.getUint16(infe.body + 4) : v.getUint32(infe.body + 4);
    const typeAt = infe.body + 4 + (version === 2 ? 2 : 4) + 2;
    const type = String.fromCharCode(v.getUint8(typeAt), v.getUint8(typeAt + 1), v.getUint8(typeAt + 2), v.getUint8(typeAt + 3));
    if (type === "Exif") exifId = id;
  }
  if (exifId < 0) return undefined;
  const version = v.getUint8(iloc.body);
  let p = iloc.body + 4;
  const sizes = v.getUint16(p);
  p += 2;
  const offsetSize = sizes >> 12, lengthSize = (sizes >> 8) & 15, baseOffsetSize = (sizes >> 4) & 15;
  const indexSize = version === 1 || version === 2 ? sizes & 15 : 0;
  const read = (n: number) => {
    const value = n === 0 ? 0 : n === 4 ? v.getUint32(p) : n === 8 ? Number(v.getBigUint64(p)) : n === 2 ? v.getUint16(p) : NaN;
    p += n;
    return value;
  };
  const count = version < 2 ? read(2) : read(4);
  for (let i = 0; i < count; i++) {
    const id = version < 2 ? read(2) : read(4);
    const method = version === 1 || version === 2 ? read(2) & 15 : 0;
    read(2); // data_reference_index
    const base = read(baseOffsetSize);
    const extents = read(2);
    let offset = 0, length = 0;
    for (let e = 0; e < extents; e++) {
      read(indexSize);
      const o = read(offsetSize), l = read(lengthSize);
      if (e === 0) [offset, length] = [o, l];
    }
    if (id !== exifId) continue;
    if (method !== 0 || extents !== 1) return undefined; // only file-offset, single-extent items
    const start = base + offset;
    if (length < 4 || start + length > input.length) return undefined;
    // The item starts with a 4-byte offset to the TIFF header (past an optional "Exif\0\0").
    const skip = v.getUint32(start);
    const tiff = start + 4 + skip;
    return tiff < start + length ? input.subarray(tiff, start + length) : undefined;
  }
  return undefined;
}

/** The EXIF to write for a metadata mode, or undefined for none. */
export function exifForOutput(exif: Uint8Array | undefined, mode: "keep" | "copyright" | "none"): Uint8Array | undefined {
  if (!exif || mode === "none") return undefined;
  const t = openTiff(exif);
  if (!t) return undefined;
  if (mode === "keep") {
    const copy = exif.slice();
    const ct = openTiff(copy)!;
    for (const e of entries(ct)) {
      if (e.tag === TAG_ORIENTATION && e.type === 3) ct.view.setUint16(e.at + 8, 1, ct.little);
    }
    return copy;
  }
  const kept: Array<{ tag: number; value: Uint8Array }> = [];
  for (const e of entries(t)) {
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
  const chunk = (type: string, body: Uint8Array) => {
    const c = new Uint8Array(8 + body.length + (body.length & 1));
    for (let i = 0; i < 4; i++) c[i] = type.charCodeAt(i);
    new DataView(c.buffer).setUint32(4, body.length, true);
    c.set(body, 8);
    return c;
  };
  const first = String.fromCharCode(webp[12], webp[13], webp[14], webp[15]);
  let head: Uint8Array;
  let rest: Uint8Array;
  if (first === "VP8X") {
    head = webp.slice(12, 12 + 18);
    head[8] |= 0x08;
    rest = webp.subarray(30);
  } else {
    const vp8x = new Uint8Array(10);
    vp8x[0] = 0x08 | (hasAlpha ? 0x10 : 0);
    const w = width - 1, h = height - 1;
    vp8x.set([w & 255, (w >> 8) & 255, (w >> 16) & 255, h & 255, (h >> 8) & 255, (h >> 16) & 255], 4);
    head = chunk("VP8X", vp8x);
    rest = webp.subarray(12);
  }
  const exif = chunk("EXIF", tiff);
  const out = new Uint8Array(12 + head.length + rest.length + exif.length);
  out.set(webp.subarray(0, 12));
  out.set(head, 12);
  out.set(rest, 12 + head.length);
  out.set(exif, 12 + head.length + rest.length);
  new DataView(out.buffer).setUint32(4, out.length - 8, true);
  return out;
}
