/**
 * Where each container keeps an ICC profile, read from inputs and written into outputs (metadata=keep):
 * JPEG APP2 "ICC_PROFILE" segments (split in numbered chunks of up to 65519 bytes), PNG iCCP (zlib), WebP ICCP
 * (VP8X layout, right after the VP8X chunk), AVIF/HEIF `colr` of type prof/rICC in `ipco` (read only: our AVIF
 * encoder's own colr box is written by libavif). Readers return undefined for anything malformed: a broken
 * profile costs the colour management, never the render.
 */
import { Unzlib, zlibSync } from "fflate";
import { MAX_ICC_PROFILE_BYTES } from "./profile.ts";
import { withWebpChunk } from "../metadata.ts";
import { VP8X_ICC } from "../codecs/webp-animation.ts";
import { insertAfterIhdr, pngChunk } from "../codecs/png-chunks.ts";
import { concatBytes } from "../bytes.ts";

const ICC_PREFIX = "ICC_PROFILE\0";
/** An APP2 segment holds 65533 bytes after its length; 14 of them are the prefix and the chunk numbers. */
const JPEG_CHUNK_BYTES = 65519;

/** The profile from a JPEG's APP2 payloads (prefix included), reassembled by sequence number. */
export function jpegIccProfile(segments: Uint8Array[]): Uint8Array | undefined {
  if (segments.length === 0) return undefined;
  const count = segments[0][13];
  if (count === 0 || segments.length !== count) return undefined;
  const ordered = new Array<Uint8Array | undefined>(count);
  for (const s of segments) {
    const seq = s[12];
    if (s[13] !== count || seq < 1 || seq > count || ordered[seq - 1]) return undefined;
    ordered[seq - 1] = s.subarray(14);
  }
  const size = ordered.reduce((n, c) => n + c!.length, 0);
  if (size > MAX_ICC_PROFILE_BYTES) return undefined;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of ordered) {
    out.set(c!, at);
    at += c!.length;
  }
  return out;
}

/** The profile in a PNG iCCP chunk body (keyword, NUL, method 0, zlib data), inflated to at most MAX_ICC_PROFILE_BYTES. */
export function pngIccProfile(body: Uint8Array): Uint8Array | undefined {
  const nul = body.indexOf(0);
  if (nul < 1 || nul > 79 || body[nul + 1] !== 0) return undefined;
  const parts: Uint8Array[] = [];
  let size = 0;
  let over = false;
  const inflater = new Unzlib((chunk) => {
    size += chunk.length;
    if (size > MAX_ICC_PROFILE_BYTES) over = true;
    else parts.push(chunk);
  });
  try {
    // Fed in small pieces so a zlib bomb stops at the cap, not after inflating all of it.
    const data = body.subarray(nul + 2);
    for (let at = 0; at < data.length && !over; at += 1024) inflater.push(data.subarray(at, at + 1024), at + 1024 >= data.length);
  } catch {
    return undefined;
  }
  if (over || size === 0) return undefined;
  return concatBytes(parts, size);
}

/** The profile in an AVIF/HEIF: the first `colr` box of type prof or rICC in meta → iprp → ipco. */
export function heifIccProfile(bytes: Uint8Array): Uint8Array | undefined {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const child = (start: number, end: number, want: string) => {
    for (let p = start; p + 8 <= end;) {
      const size = v.getUint32(p);
      const type = String.fromCharCode(bytes[p + 4], bytes[p + 5], bytes[p + 6], bytes[p + 7]);
      if (size < 8 || p + size > end) return undefined;
      if (type === want) return { body: p + 8, end: p + size };
      p += size;
    }
    return undefined;
  };
  const meta = child(0, bytes.length, "meta");
  const iprp = meta && child(meta.body + 4, meta.end, "iprp");
  const ipco = iprp && child(iprp.body, iprp.end, "ipco");
  if (!ipco) return undefined;
  for (let p = ipco.body; p + 12 <= ipco.end;) {
    const size = v.getUint32(p);
    if (size < 8 || p + size > ipco.end) return undefined;
    const type = String.fromCharCode(bytes[p + 4], bytes[p + 5], bytes[p + 6], bytes[p + 7]);
    const kind = String.fromCharCode(bytes[p + 8], bytes[p + 9], bytes[p + 10], bytes[p + 11]);
    if (type === "colr" && (kind === "prof" || kind === "rICC")) return bytes.subarray(p + 12, p + size);
    p += size;
  }
  return undefined;
}

/** Output formats that carry a kept profile; for the others (AVIF) the pixels are converted to sRGB instead. */
export const CARRIES_ICC_PROFILE = { jpeg: true, png: true, webp: true, avif: false } as const;

/** Inserts the profile as APP2 segments after SOI and any APP0/APP1 (JFIF and EXIF come first). */
export function embedIccInJpeg(jpeg: Uint8Array, profile: Uint8Array): Uint8Array {
  const count = Math.ceil(profile.length / JPEG_CHUNK_BYTES);
  if (count > 255) return jpeg;
  let at = 2;
  while (jpeg[at] === 0xff && (jpeg[at + 1] === 0xe0 || jpeg[at + 1] === 0xe1)) at += 2 + ((jpeg[at + 2] << 8) | jpeg[at + 3]);
  const out = new Uint8Array(jpeg.length + count * 18 + profile.length);
  out.set(jpeg.subarray(0, at));
  let o = at;
  for (let i = 0; i < count; i++) {
    const chunk = profile.subarray(i * JPEG_CHUNK_BYTES, (i + 1) * JPEG_CHUNK_BYTES);
    const length = 2 + 14 + chunk.length;
    out.set([0xff, 0xe2, length >> 8, length & 255], o);
    for (let k = 0; k < 12; k++) out[o + 4 + k] = ICC_PREFIX.charCodeAt(k);
    out[o + 16] = i + 1;
    out[o + 17] = count;
    out.set(chunk, o + 18);
    o += 18 + chunk.length;
  }
  out.set(jpeg.subarray(at), o);
  return out;
}

/** Inserts an iCCP chunk (zlib-compressed profile) right after IHDR, where PNG wants it (before PLTE and IDAT). */
export function embedIccInPng(png: Uint8Array, profile: Uint8Array): Uint8Array {
  const name = "ICC Profile";
  const compressed = zlibSync(profile, { level: 6 });
  const body = new Uint8Array(name.length + 2 + compressed.length);
  for (let i = 0; i < name.length; i++) body[i] = name.charCodeAt(i);
  body.set(compressed, name.length + 2);
  return insertAfterIhdr(png, pngChunk("iCCP", body));
}

/** Adds an ICCP chunk right after VP8X (converting a simple VP8/VP8L file to the extended layout) and sets its ICC flag. */
export function embedIccInWebp(webp: Uint8Array, profile: Uint8Array, width: number, height: number, hasAlpha: boolean): Uint8Array {
  return withWebpChunk(webp, "ICCP", profile, VP8X_ICC, "after-vp8x", { width, height, hasAlpha });
}
