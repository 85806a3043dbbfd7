/**
 * AVIF (HEIF with AV1, 8-bit): decoded by jSquash's libavif + dav1d. The probe reads the primary item's size
 * (`ispe`), alpha (an alpha auxiliary item) and orientation (`irot`/`imir`), and refuses an AV1 stream whose
 * frames are far larger than that size (a bomb); EXIF comes from the Exif item (`iinf`/`iloc`).
 */
import type { EngineModules } from "../modules.ts";
import { CodecError } from "../errors.ts";
import type { Orientation } from "../raster.ts";
import { asCodecError, rasterFromRgba, rgbaDecodeMemory } from "../decode.ts";
import type { CodecImage } from "../codecs/instances.ts";
import { ascii, readU32 } from "./reader.ts";
import { heifIccProfile } from "../icc/containers.ts";
import type { DecodeContext, DecodeResult, ImageFormatModule, ImageHeader } from "./types.ts";

const MiB = 1024 * 1024;

export const avif: ImageFormatModule = {
  label: "AVIF",
  contentType: "image/avif",
  sniff(b) {
    if (b.length < 12 || ascii(b, 4, 4) !== "ftyp") return false;
    return /avif|avis/.test(ascii(b, 8, Math.min(readU32(b, 0), b.length) - 8));
  },
  probe: probeAvif,
  // Their decoders are built from the bytes without reading them: the header is enough to plan with.
  planningDecoders: (bytes, source) => avif.read(bytes, source, {} as EngineModules).decoders,
  read: (bytes) => ({
    decoders: [{
      name: "avif",
      // Calibrated in Node 22 from `memory.buffer.byteLength`: 16 MiB + 34–44·n on 1–12 MP images.
      memory: ({ inputBytes, width, height }) => rgbaDecodeMemory(inputBytes, 16 * MiB + inputBytes + 44 * width * height, width, height),
      decode: (_scale, context) => decodeAvif(bytes, context),
    }],
    exif: () => {
      try {
        return avifExif(bytes);
      } catch {
        return undefined; // a malformed box tree only costs the metadata, never the render
      }
    },
    iccProfile: () => {
      try {
        return heifIccProfile(bytes);
      } catch {
        return undefined;
      }
    },
  }),
};

async function decodeAvif(input: Uint8Array, { modules, codecs, keepAlpha }: DecodeContext): Promise<DecodeResult> {
  const codec = await codecs.instantiateAvifDecoder(modules.avifDec);
  let image: CodecImage | null;
  try {
    image = codec.api.decode(input, 8);
  } catch (e) {
    throw asCodecError(e, "AVIF decode", codec.messages);
  }
  if (!image) throw new CodecError("corrupt", "AVIF decode failed: libavif rejected the stream");
  return { raster: rasterFromRgba(image, keepAlpha), decoderHeapBytes: codec.memory.buffer.byteLength };
}

/** AVIF (HEIF): dimensions from the primary item's `ispe`, alpha from an alpha auxiliary item, orientation from `irot`/`imir`. */
function probeAvif(bytes: Uint8Array): ImageHeader {
  const header: ImageHeader = { format: "avif", width: 0, height: 0, orientation: 1, hasAlpha: false, progressive: false, animated: false };
  const brands = ascii(bytes, 8, Math.max(0, Math.min(readU32(bytes, 0), bytes.length) - 8));
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
      let size = readU32(bytes, pos);
      const type = ascii(bytes, pos + 4, 4);
      let headerSize = 8;
      if (size === 1) {
        if (pos + 16 > end) return;
        size = readU32(bytes, pos + 8) * 2 ** 32 + readU32(bytes, pos + 12);
        headerSize = 16;
      } else if (size === 0) {
        size = end - pos;
      }
      if (size < headerSize || pos + size > end) return;
      const body = pos + headerSize;
      if (type === "meta") visit(body + 4, pos + size, depth + 1); // full box: skip version/flags
      else if (type === "iprp" || type === "ipco") visit(body, pos + size, depth + 1);
      else if (type === "ispe" && size >= 20) {
        const w = readU32(bytes, body + 4);
        const h = readU32(bytes, body + 8);
        // The primary image is the largest; an alpha plane or thumbnail may carry its own ispe.
        if (w * h > header.width * header.height) {
          header.width = w;
          header.height = h;
        }
      } else if (type === "auxC" && ascii(bytes, body + 4, size - headerSize - 4).includes("auxiliary:alpha")) {
        header.hasAlpha = true;
      } else if (type === "av1C" && size > headerSize + 4) {
        noteAv1Size(bytes.subarray(body + 4, pos + size));
      } else if (type === "iloc") {
        for (const at of ilocFirstExtents(bytes, body, pos + size)) noteAv1Size(bytes.subarray(at, Math.min(bytes.length, at + 256)));
      } else if (type === "irot" && size >= 9) {
        rotation = bytes[body] & 3;
      } else if (type === "imir" && size >= 9) {
        mirror = bytes[body] & 1;
      }
      pos += size;
    }
  };
  visit(0, bytes.length, 0);
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

