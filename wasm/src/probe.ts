import { CodecError } from "./errors.ts";
import type { Orientation } from "./raster.ts";

export type ImageFormat = "jpeg" | "png" | "webp" | "avif" | "gif";

/** What an image's header says, read without decoding any pixel data. */
export interface ImageHeader {
  format: ImageFormat;
  /** Dimensions as stored (before EXIF orientation is applied). */
  width: number;
  height: number;
  orientation: Orientation;
  hasAlpha: boolean;
  /** JPEG: progressive scan; PNG: Adam7 interlaced. */
  progressive: boolean;
  /** GIF/WebP/AVIF sequences have more than one frame; we render the first. */
  animated: boolean;
}

export const CONTENT_TYPES: Record<ImageFormat, string> = {
  jpeg: "image/jpeg",
  png: "image/png",
  webp: "image/webp",
  avif: "image/avif",
  gif: "image/gif",
};

/** Sniffs the format from magic bytes and reads dimensions, orientation and alpha from the header. */
export function probeImage(bytes: Uint8Array): ImageHeader {
  const format = sniffFormat(bytes);
  if (!format) {
    throw new CodecError("unsupported", "unsupported image format: expected JPEG, PNG, WebP, AVIF or GIF");
  }
  const header = PROBES[format](new Reader(bytes));
  if (!(header.width > 0 && header.height > 0)) {
    throw new CodecError("corrupt", `${format.toUpperCase()} header declares an empty image (${header.width}×${header.height})`);
  }
  return header;
}

/** Identifies the container by its magic bytes; undefined when it is none we accept. */
export function sniffFormat(b: Uint8Array): ImageFormat | undefined {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "jpeg";
  if (b.length >= 8 && ascii(b, 0, 8) === "\x89PNG\r\n\x1a\n") return "png";
  if (b.length >= 6 && (ascii(b, 0, 6) === "GIF87a" || ascii(b, 0, 6) === "GIF89a")) return "gif";
  if (b.length >= 12 && ascii(b, 0, 4) === "RIFF" && ascii(b, 8, 4) === "WEBP") return "webp";
  if (b.length >= 12 && ascii(b, 4, 4) === "ftyp") {
    const brands = ascii(b, 8, Math.min(readU32(b, 0), b.length) - 8);
    if (/avif|avis/.test(brands)) return "avif";
  }
  return undefined;
}

const PROBES: Record<ImageFormat, (r: Reader) => ImageHeader> = {
  jpeg: probeJpeg,
  png: probePng,
  gif: probeGif,
  webp: probeWebp,
  avif: probeAvif,
};

function probeJpeg(r: Reader): ImageHeader {
  r.pos = 2;
  let orientation: Orientation = 1;
  for (;;) {
    // Junk between segments is skipped (libjpeg warns "extraneous bytes before marker" and decodes, and so do
    // our decoder and mozjpeg); markers may be padded with any number of 0xFF fill bytes.
    r.need(2, "JPEG");
    if (r.u8() !== 0xff) continue;
    let marker = r.u8();
    while (marker === 0xff) marker = r.u8();
    if (marker === 0x00 || marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue;
    if (marker === 0xd9 || marker === 0xda) throw new CodecError("corrupt", "JPEG has no frame header (SOF) before its scan data");
    const length = r.u16be();
    if (length < 2) throw new CodecError("corrupt", "JPEG segment with an invalid length");
    const start = r.pos;
    r.need(length - 2, "JPEG");
    if (marker === 0xe1 && orientation === 1) orientation = readExifOrientation(r.bytes.subarray(start, start + length - 2));
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) {
      r.u8(); // sample precision
      const height = r.u16be();
      const width = r.u16be();
      if (height === 0) throw new CodecError("unsupported", "JPEG with height defined by DNL is not supported");
      return {
        format: "jpeg",
        width,
        height,
        orientation,
        hasAlpha: false,
        progressive: marker === 0xc2 || marker === 0xc6 || marker === 0xca || marker === 0xce,
        animated: false,
      };
    }
    r.pos = start + length - 2;
  }
}

function probePng(r: Reader): ImageHeader {
  r.pos = 8;
  const ihdrLength = r.u32be();
  if (r.ascii(4) !== "IHDR" || ihdrLength !== 13) throw new CodecError("corrupt", "PNG does not start with an IHDR chunk");
  const width = r.u32be();
  const height = r.u32be();
  r.u8(); // bit depth
  const colorType = r.u8();
  r.u8(); // compression
  r.u8(); // filter
  const interlace = r.u8();
  r.pos += 4; // CRC
  let hasAlpha = colorType === 4 || colorType === 6;
  let orientation: Orientation = 1;
  let animated = false;
  // Walk the ancillary chunks before the image data for tRNS (alpha), eXIf (orientation) and acTL (APNG).
  while (r.remaining() >= 8) {
    const length = r.u32be();
    const type = r.ascii(4);
    if (type === "IDAT" || type === "IEND") break;
    if (r.remaining() < length + 4) break;
    if (type === "tRNS") hasAlpha = true;
    if (type === "acTL") animated = true;
    if (type === "eXIf") orientation = readExifOrientation(r.bytes.subarray(r.pos, r.pos + length));
    r.pos += length + 4;
  }
  return { format: "png", width, height, orientation, hasAlpha, progressive: interlace === 1, animated };
}

function probeGif(r: Reader): ImageHeader {
  r.pos = 6;
  const width = r.u16le();
  const height = r.u16le();
  const flags = r.u8();
  r.pos += 2;
  if (flags & 0x80) r.pos += 3 * (1 << ((flags & 7) + 1));
  let hasAlpha = false;
  let frames = 0;
  let firstFrame = { width: 0, height: 0 };
  // Count frames (up to two: we only need to know whether it is animated) and look for transparency. Damage
  // after the first image descriptor ends the scan rather than the upload: the first frame is what we render.
  try {
    while (r.remaining() > 0 && frames < 2) {
      const block = r.u8();
      if (block === 0x3b) break;
      if (block === 0x21) {
        const label = r.u8();
        if (label === 0xf9 && r.remaining() >= 2 && r.bytes[r.pos] === 4 && (r.bytes[r.pos + 1] & 1)) hasAlpha = true;
        skipGifSubBlocks(r);
      } else if (block === 0x2c) {
        frames++;
        r.pos += 4;
        const frame = { width: r.u16le(), height: r.u16le() };
        if (frames === 1) firstFrame = frame;
        const imageFlags = r.u8();
        if (imageFlags & 0x80) r.pos += 3 * (1 << ((imageFlags & 7) + 1));
        r.u8(); // LZW minimum code size
        skipGifSubBlocks(r);
      } else {
        throw new CodecError("corrupt", `GIF has an unknown block 0x${block.toString(16)}`);
      }
    }
  } catch (error) {
    if (frames === 0) throw error;
  }
  if (frames === 0) throw new CodecError("corrupt", "GIF contains no image");
  // We render the first frame clipped to the logical screen, and the screen is what memory is planned for;
  // but the GIF decoder expands the whole frame first. A frame far larger than its screen (up to 65535×65535
  // in a few bytes) is a decompression bomb, not a picture.
  const frameArea = firstFrame.width * firstFrame.height;
  if (frameArea > Math.max(4 * width * height, GIF_FRAME_SLACK_PIXELS)) {
    throw new CodecError("limit", `GIF's first frame (${firstFrame.width}×${firstFrame.height}) is far larger than its ${width}×${height} logical screen`);
  }
  return { format: "gif", width, height, orientation: 1, hasAlpha, progressive: false, animated: frames > 1 };
}

/** Frames up to this size are accepted whatever the logical screen says (some encoders write 0×0 screens). */
const GIF_FRAME_SLACK_PIXELS = 1 << 24;

function skipGifSubBlocks(r: Reader): void {
  for (;;) {
    const size = r.u8();
    if (size === 0) return;
    r.need(size, "GIF");
    r.pos += size;
  }
}

function probeWebp(r: Reader): ImageHeader {
  r.pos = 12;
  const header: ImageHeader = { format: "webp", width: 0, height: 0, orientation: 1, hasAlpha: false, progressive: false, animated: false };
  let sawFrame = false;
  // Walk the chunks inside the RIFF only: bytes after it (trailing junk, which libwebp ignores) are not chunks.
  const riffEnd = 8 + readU32LE(r.bytes, 4);
  if (riffEnd >= 20 && riffEnd < r.bytes.length) r.bytes = r.bytes.subarray(0, riffEnd);
  while (r.remaining() >= 8) {
    const type = r.ascii(4);
    const size = r.u32le();
    const start = r.pos;
    // A damaged chunk after the frame header (metadata, later animation frames) does not stop the upload.
    if (sawFrame && r.remaining() < Math.min(size, 30)) break;
    r.need(Math.min(size, 30), "WebP");
    if (type === "VP8X") {
      const flags = r.u8();
      header.hasAlpha = (flags & 0x10) !== 0;
      header.animated = (flags & 0x02) !== 0;
      r.pos += 3;
      header.width = 1 + r.u24le();
      header.height = 1 + r.u24le();
      sawFrame = true;
    } else if (type === "VP8 " && !sawFrame) {
      r.pos += 3;
      if (r.u8() !== 0x9d || r.u8() !== 0x01 || r.u8() !== 0x2a) throw new CodecError("corrupt", "WebP VP8 frame has a bad start code");
      header.width = r.u16le() & 0x3fff;
      header.height = r.u16le() & 0x3fff;
      sawFrame = true;
    } else if (type === "VP8L" && !sawFrame) {
      if (r.u8() !== 0x2f) throw new CodecError("corrupt", "WebP lossless frame has a bad signature");
      const bits = r.u32le();
      header.width = (bits & 0x3fff) + 1;
      header.height = ((bits >>> 14) & 0x3fff) + 1;
      header.hasAlpha = ((bits >>> 28) & 1) === 1;
      sawFrame = true;
    } else if (type === "EXIF" && r.remaining() >= size) {
      header.orientation = readExifOrientation(r.bytes.subarray(start, start + size));
    }
    r.pos = start + size + (size & 1);
    if (r.pos > r.bytes.length) break;
  }
  if (!sawFrame) throw new CodecError("corrupt", "WebP file has no image frame");
  return header;
}

/** AVIF (HEIF): dimensions from the primary item's `ispe`, alpha from an alpha auxiliary item, orientation from `irot`/`imir`. */
function probeAvif(r: Reader): ImageHeader {
  const header: ImageHeader = { format: "avif", width: 0, height: 0, orientation: 1, hasAlpha: false, progressive: false, animated: false };
  const brands = ascii(r.bytes, 8, Math.max(0, Math.min(readU32(r.bytes, 0), r.bytes.length) - 8));
  header.animated = brands.includes("avis") && !brands.includes("avif");
  let rotation = 0;
  let mirror = -1;
  // Largest frame any AV1 sequence header (in av1C) allows: the decoder allocates for that, whatever ispe says.
  let av1Width = 0;
  let av1Height = 0;
  const noteAv1Size = (obus: Uint8Array) => {
    const dims = av1SequenceHeaderSize(obus);
    if (dims) {
      av1Width = Math.max(av1Width, dims.width);
      av1Height = Math.max(av1Height, dims.height);
    }
  };
  const visit = (start: number, end: number, depth: number): void => {
    let pos = start;
    while (pos + 8 <= end && depth < 8) {
      let size = readU32(r.bytes, pos);
      const type = ascii(r.bytes, pos + 4, 4);
      let headerSize = 8;
      if (size === 1) {
        if (pos + 16 > end) return;
        size = readU32(r.bytes, pos + 8) * 2 ** 32 + readU32(r.bytes, pos + 12);
        headerSize = 16;
      } else if (size === 0) {
        size = end - pos;
      }
      if (size < headerSize || pos + size > end) return;
      const body = pos + headerSize;
      if (type === "meta") visit(body + 4, pos + size, depth + 1); // full box: skip version/flags
      else if (type === "iprp" || type === "ipco") visit(body, pos + size, depth + 1);
      else if (type === "ispe" && size >= 20) {
        const w = readU32(r.bytes, body + 4);
        const h = readU32(r.bytes, body + 8);
        // The primary image is the largest; an alpha plane or thumbnail may carry its own ispe.
        if (w * h > header.width * header.height) {
          header.width = w;
          header.height = h;
        }
      } else if (type === "auxC" && ascii(r.bytes, body + 4, size - headerSize - 4).includes("auxiliary:alpha")) {
        header.hasAlpha = true;
      } else if (type === "av1C" && size > headerSize + 4) {
        noteAv1Size(r.bytes.subarray(body + 4, pos + size));
      } else if (type === "iloc") {
        for (const at of ilocFirstExtents(r.bytes, body, pos + size)) noteAv1Size(r.bytes.subarray(at, Math.min(r.bytes.length, at + 256)));
      } else if (type === "irot" && size >= 9) {
        rotation = r.bytes[body] & 3;
      } else if (type === "imir" && size >= 9) {
        mirror = r.bytes[body] & 1;
      }
      pos += size;
    }
  };
  visit(0, r.bytes.length, 0);
  if (header.width === 0) throw new CodecError("corrupt", "AVIF file has no image spatial extent (ispe)");
  // The planner budgets for the ispe size, but dav1d allocates for the AV1 frame: a few hundred bytes claiming
  // 64×64 can carry a flat 4000×4000 frame (1.3 s and 300 MB of decoder heap before libavif rejects the
  // mismatch). An encoder may round its maximum frame size up a little, so only a far larger one is refused.
  if (av1Width * av1Height > Math.max(4 * header.width * header.height, AV1_FRAME_SLACK_PIXELS)) {
    throw new CodecError("limit", `AVIF's AV1 stream allows ${av1Width}×${av1Height} frames, far larger than its ${header.width}×${header.height} image extent (ispe)`);
  }
  // Like EXIF, report the stored (ispe) size and let the orientation say how to turn it.
  header.orientation = heifOrientation(rotation, mirror);
  return header;
}

/** AV1 frames up to this size are decoded whatever ispe says (libavif then checks the match). */
const AV1_FRAME_SLACK_PIXELS = 1 << 20;

/**
 * File offsets of the first extent of every item in an iloc box (ISO 14496-12 8.11.3), file-offset
 * construction only: where each coded image (AV1 OBUs) starts.
 */
function ilocFirstExtents(b: Uint8Array, start: number, end: number): number[] {
  const offsets: number[] = [];
  let p = start;
  const n = (bytes: number): number => {
    if (p + bytes > end) throw new RangeError("short");
    let v = 0;
    for (let i = 0; i < bytes; i++) v = v * 256 + b[p++];
    return v;
  };
  try {
    const version = n(1);
    n(3); // flags
    const sizes = n(2);
    const offsetSize = sizes >> 12, lengthSize = (sizes >> 8) & 15, baseOffsetSize = (sizes >> 4) & 15;
    const indexSize = version === 1 || version === 2 ? sizes & 15 : 0;
    const items = n(version < 2 ? 2 : 4);
    for (let i = 0; i < items && offsets.length < 64; i++) {
      n(version < 2 ? 2 : 4); // item_ID
      const method = version === 1 || version === 2 ? n(2) & 15 : 0;
      n(2); // data_reference_index
      const base = n(baseOffsetSize);
      const extents = n(2);
      for (let e = 0; e < extents; e++) {
        n(indexSize);
        const offset = n(offsetSize);
        n(lengthSize);
        if (e === 0 && method === 0 && base + offset < b.length) offsets.push(base + offset);
      }
    }
  } catch {
    // A damaged iloc: check what was read; the decoder judges the rest.
  }
  return offsets;
}

/**
 * max_frame_width/height from the first sequence header among the leading OBUs of `obus` (AV1 spec 5.3,
 * 5.5.1), or undefined when there is none or it is malformed (the decoder will judge then).
 */
function av1SequenceHeaderSize(obus: Uint8Array): { width: number; height: number } | undefined {
  let bit = 0;
  const end = obus.length * 8;
  const f = (n: number): number => {
    let v = 0;
    for (let i = 0; i < n; i++) {
      if (bit >= end) throw new RangeError("short");
      v = v * 2 + ((obus[bit >> 3] >> (7 - (bit & 7))) & 1);
      bit++;
    }
    return v;
  };
  try {
    // Skip leading OBUs (temporal delimiter, padding, metadata) to the sequence header.
    for (let obu = 0; ; obu++) {
      const obuHeader = f(8);
      if (obuHeader & 4) f(8); // extension header
      let size = -1;
      if (obuHeader & 2) {
        size = 0;
        for (let i = 0; i < 8; i++) {
          const byte = f(8);
          size += (byte & 0x7f) * 2 ** (7 * i);
          if (!(byte & 0x80)) break;
        }
      }
      if (((obuHeader >> 3) & 15) === 1) break; // OBU_SEQUENCE_HEADER
      if (size < 0 || obu >= 4) return undefined;
      bit += size * 8;
    }
    f(3); // seq_profile
    f(1); // still_picture
    const reduced = f(1);
    if (reduced) {
      f(5);
    } else {
      let bufferDelayLength = 0;
      const timingInfo = f(1);
      let decoderModelInfo = 0;
      if (timingInfo) {
        f(32); f(32);
        if (f(1)) {
          // num_ticks_per_picture_minus_1, uvlc
          let zeros = 0;
          while (f(1) === 0) if (++zeros >= 32) return undefined;
          f(zeros);
        }
        decoderModelInfo = f(1);
        if (decoderModelInfo) {
          bufferDelayLength = f(5) + 1;
          f(32); f(5); f(5);
        }
      }
      const initialDisplayDelay = f(1);
      const operatingPoints = f(5) + 1;
      for (let i = 0; i < operatingPoints; i++) {
        f(12);
        if (f(5) > 7) f(1);
        if (decoderModelInfo && f(1)) {
          f(bufferDelayLength); f(bufferDelayLength); f(1);
        }
        if (initialDisplayDelay && f(1)) f(4);
      }
    }
    const widthBits = f(4) + 1;
    const heightBits = f(4) + 1;
    return { width: f(widthBits) + 1, height: f(heightBits) + 1 };
  } catch {
    return undefined;
  }
}

/** Maps HEIF anti-clockwise rotation (irot, in quarter turns) and mirror axis (imir) to an EXIF orientation. */
function heifOrientation(rotation: number, mirror: number): Orientation {
  if (mirror < 0) return ([1, 8, 3, 6] as const)[rotation];
  // imir axis 0 mirrors top-to-bottom (vertical axis flip), 1 mirrors left-to-right, applied after rotation.
  const flipH: readonly Orientation[] = [2, 7, 4, 5];
  const flipV: readonly Orientation[] = [4, 5, 2, 7];
  return (mirror === 1 ? flipH : flipV)[rotation];
}

/**
 * Reads the Orientation tag (0x0112) from an EXIF block: a TIFF structure, optionally behind the "Exif\0\0"
 * prefix (always there in JPEG APP1; written by some encoders in WebP and PNG chunks, not by others).
 */
export function readExifOrientation(exif: Uint8Array): Orientation {
  const base = ascii(exif, 0, 6) === "Exif\0\0" ? 6 : 0;
  if (exif.length < base + 8) return 1;
  const order = ascii(exif, base, 2);
  if (order !== "II" && order !== "MM") return 1;
  const little = order === "II";
  const u16 = (at: number) => (little ? exif[at] | (exif[at + 1] << 8) : (exif[at] << 8) | exif[at + 1]);
  const u32 = (at: number) => (little ? readU32LE(exif, at) : readU32(exif, at));
  const ifd = base + u32(base + 4);
  if (ifd + 2 > exif.length) return 1;
  const count = u16(ifd);
  for (let i = 0; i < count; i++) {
    const entry = ifd + 2 + i * 12;
    if (entry + 12 > exif.length) return 1;
    if (u16(entry) === 0x0112) {
      const value = u16(entry + 8);
      return value >= 1 && value <= 8 ? (value as Orientation) : 1;
    }
  }
  return 1;
}

class Reader {
  bytes: Uint8Array;
  pos = 0;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  remaining(): number {
    return this.bytes.length - this.pos;
  }

  need(n: number, what: string): void {
    if (this.pos + n > this.bytes.length) throw truncatedOrCorrupt(this, what, "header is truncated");
  }

  u8(): number {
    this.need(1, "image");
    return this.bytes[this.pos++];
  }

  u16be(): number {
    this.need(2, "image");
    const v = (this.bytes[this.pos] << 8) | this.bytes[this.pos + 1];
    this.pos += 2;
    return v;
  }

  u16le(): number {
    this.need(2, "image");
    const v = this.bytes[this.pos] | (this.bytes[this.pos + 1] << 8);
    this.pos += 2;
    return v;
  }

  u24le(): number {
    this.need(3, "image");
    const v = this.bytes[this.pos] | (this.bytes[this.pos + 1] << 8) | (this.bytes[this.pos + 2] << 16);
    this.pos += 3;
    return v;
  }

  u32be(): number {
    this.need(4, "image");
    const v = readU32(this.bytes, this.pos);
    this.pos += 4;
    return v;
  }

  u32le(): number {
    this.need(4, "image");
    const v = readU32LE(this.bytes, this.pos);
    this.pos += 4;
    return v;
  }

  ascii(n: number): string {
    this.need(n, "image");
    const s = ascii(this.bytes, this.pos, n);
    this.pos += n;
    return s;
  }
}

function truncatedOrCorrupt(r: Reader, what: string, detail: string): CodecError {
  return new CodecError("corrupt", `${what} ${detail} (at byte ${r.pos} of ${r.bytes.length})`);
}

function ascii(b: Uint8Array, start: number, n: number): string {
  let s = "";
  for (let i = start; i < Math.min(b.length, start + n); i++) s += String.fromCharCode(b[i]);
  return s;
}

function readU32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

function readU32LE(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}
