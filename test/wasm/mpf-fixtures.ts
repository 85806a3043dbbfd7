// Multi-Picture Format (CIPA DC-007) and Ultra HDR fixtures, as phones write them: a primary JPEG, then a
// second JPEG (the gain map) appended after the primary's EOI, found through an APP2 "MPF\0" index whose
// offsets count from the index's own TIFF header. Built from sharp-made JPEGs, so no binary lives in git.

const HDRGM = "http://ns.adobe.com/hdr-gain-map/1.0/";

/** An APP2/APP1 segment: marker, length, payload. */
function segment(marker: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.length);
  out.set([0xff, marker, (payload.length + 2) >> 8, (payload.length + 2) & 255]);
  out.set(payload, 4);
  return out;
}

/** Where the primary's marker segments after SOI (and its APP0/APP1, which must stay first) end. */
function afterLeadingApps(jpeg: Uint8Array): number {
  let at = 2;
  while (jpeg[at] === 0xff && (jpeg[at + 1] === 0xe0 || jpeg[at + 1] === 0xe1)) at += 2 + ((jpeg[at + 2] << 8) | jpeg[at + 3]);
  return at;
}

/** The MPF APP2 payload for two images: big-endian TIFF, IFD with version, count and the two MP entries. */
function mpfPayload(primaryLength: number, secondLength: number, secondOffset: number): Uint8Array {
  const entries = 3;
  const ifdBytes = 2 + entries * 12 + 4;
  const tiff = new Uint8Array(8 + ifdBytes + 32);
  const v = new DataView(tiff.buffer);
  tiff.set([0x4d, 0x4d, 0, 42, 0, 0, 0, 8]);
  v.setUint16(8, entries);
  const entry = (i: number, tag: number, type: number, count: number, value: number | number[]) => {
    const at = 10 + i * 12;
    v.setUint16(at, tag);
    v.setUint16(at + 2, type);
    v.setUint32(at + 4, count);
    if (Array.isArray(value)) tiff.set(value, at + 8);
    else v.setUint32(at + 8, value);
  };
  entry(0, 0xb000, 7, 4, [0x30, 0x31, 0x30, 0x30]); // MPFVersion "0100"
  entry(1, 0xb001, 4, 1, 2); // NumberOfImages
  entry(2, 0xb002, 7, 32, 8 + ifdBytes); // MPEntry, 16 bytes per image, after the IFD
  const mp = 8 + ifdBytes;
  v.setUint32(mp, 0x20030000); // primary: representative image, baseline MP primary
  v.setUint32(mp + 4, primaryLength);
  v.setUint32(mp + 8, 0); // the primary's offset is 0 by definition
  v.setUint32(mp + 16, 0); // second image: dependent, undefined type (as Ultra HDR writes a gain map)
  v.setUint32(mp + 20, secondLength);
  v.setUint32(mp + 24, secondOffset);
  const payload = new Uint8Array(4 + tiff.length);
  payload.set([0x4d, 0x50, 0x46, 0]);
  payload.set(tiff, 4);
  return payload;
}

function xmpPayload(xml: string): Uint8Array {
  return new TextEncoder().encode(`http://ns.adobe.com/xap/1.0/\0${xml}`);
}

/**
 * `primary` with an MPF index (and, with `ultraHdr`, hdrgm XMP in both images) pointing at `second`, appended
 * after the primary's EOI. The MPF offsets are relative to the index's TIFF header, as the standard says.
 */
export function withGainMap(primary: Uint8Array, second: Uint8Array, { ultraHdr = false } = {}): Uint8Array {
  const gainMap = ultraHdr ? insertAfterApps(second, segment(0xe1, xmpPayload(`<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:hdrgm="${HDRGM}" hdrgm:Version="1.0" hdrgm:GainMapMax="2.0" hdrgm:HDRCapacityMax="2.0"/></rdf:RDF></x:xmpmeta>`))) : second;
  const xmp = ultraHdr
    ? segment(0xe1, xmpPayload(`<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:hdrgm="${HDRGM}" xmlns:Container="http://ns.google.com/photos/1.0/container/" hdrgm:Version="1.0"><Container:Directory><rdf:Seq><rdf:li Container:Item="Primary"/><rdf:li Container:Item="GainMap" Container:Length="${gainMap.length}"/></rdf:Seq></Container:Directory></rdf:Description></rdf:RDF></x:xmpmeta>`))
    : new Uint8Array(0);
  const at = afterLeadingApps(primary);
  // The index's size does not depend on the offsets it holds: build once to measure, once with the real values.
  const probe = segment(0xe2, mpfPayload(0, 0, 0));
  const primaryLength = primary.length + xmp.length + probe.length;
  const tiffStart = at + xmp.length + 4 + 4; // segment header, then "MPF\0"
  const app2 = segment(0xe2, mpfPayload(primaryLength, gainMap.length, primaryLength - tiffStart));
  const out = new Uint8Array(primaryLength + gainMap.length);
  out.set(primary.subarray(0, at));
  out.set(xmp, at);
  out.set(app2, at + xmp.length);
  out.set(primary.subarray(at), at + xmp.length + app2.length);
  out.set(gainMap, primaryLength);
  return out;
}

function insertAfterApps(jpeg: Uint8Array, seg: Uint8Array): Uint8Array {
  const at = afterLeadingApps(jpeg);
  const out = new Uint8Array(jpeg.length + seg.length);
  out.set(jpeg.subarray(0, at));
  out.set(seg, at);
  out.set(jpeg.subarray(at), at + seg.length);
  return out;
}

/** Whether `needle` (ASCII) occurs in `bytes`. */
export function containsAscii(bytes: Uint8Array, needle: string): boolean {
  return Buffer.from(bytes).includes(Buffer.from(needle, "latin1"));
}

/** Where each image starts (FF D8 FF): entropy data cannot contain FF D8, so these are the file's images. */
export function imageStarts(bytes: Uint8Array): number[] {
  const starts: number[] = [];
  for (let i = 0; i + 2 < bytes.length; i++) if (bytes[i] === 0xff && bytes[i + 1] === 0xd8 && bytes[i + 2] === 0xff) starts.push(i);
  return starts;
}

export const countImages = (bytes: Uint8Array) => imageStarts(bytes).length;
