/**
 * WebP (lossy, lossless, alpha). A lossy still is decoded by our libwebp build straight to the plan's scale
 * (webp-scaled.ts), with jSquash's libwebp (simple API, full size) behind it; lossless and animated ones by
 * jSquash's. A lossless still whose full-size decode does not fit the budget streams through our VP8L decoder with
 * shrink-on-load instead (codecs/vp8l-stream.ts). An animated one renders its first frame: codecs/webp-animation.ts
 * re-wraps the first ANMF frame's ALPH+VP8 or VP8L as a still and places it at its offset on a transparent canvas
 * of the VP8X size.
 */
import { CodecError } from "../errors.ts";
import { exifOrientation, exifTiff } from "../exif.ts";
import { asCodecError, rasterFromRgba, rgbaDecodeMemory } from "../decode.ts";
import type { CodecImage } from "../codecs/instances.ts";
import { VP8X_ANIMATION, placeOnCanvas, webpFirstFrame } from "../codecs/webp-animation.ts";
import { decodeVp8lScaled, readVp8lHeader, vp8lNeeds, vp8lStreamWorkBytes } from "../codecs/vp8l-stream.ts";
import { chooseDecodeScale } from "../plan.ts";
import type { SourceInfo } from "../targets.ts";
import { Reader, ascii, readU32LE } from "./reader.ts";
import type { DecodeContext, DecodeResult, ImageFormatModule, ImageHeader, SourceDecoder } from "./types.ts";
import { allocateStreamedInput, alphaCoding, webpScaledDecoder, type AlphaCoding } from "./webp-scaled.ts";

const MiB = 1024 * 1024;

export const webp: ImageFormatModule = {
  label: "WebP",
  contentType: "image/webp",
  sniff: (b) => b.length >= 12 && ascii(b, 0, 4) === "RIFF" && ascii(b, 8, 4) === "WEBP",
  probe: probeWebp,
  // The file goes into our decoder's memory, which reads it there; the others read it from that view.
  inputMemory: (byteLength, modules) => allocateStreamedInput(modules.webpScaled, byteLength),
  // Their decoders are built from the chunk headers: the file's first bytes are enough to plan with.
  planningDecoders: (bytes, source) => decodersOf(bytes, source, true),
  read: (bytes, source) => ({
    decoders: decodersOf(bytes, source),
    exif: () => {
      const exif = riffChunks(bytes).find((c) => c.type === "EXIF");
      return exif && exifTiff(exif.body);
    },
    iccProfile: () => riffChunks(bytes).find((c) => c.type === "ICCP")?.body,
  }),
};

/**
 * Our VP8L decoder at the plan's scale, for a lossless still (a VP8L chunk at the top level, not an
 * animation): no full-size raster, so a 50 MP lossless WebP fits the budget when its targets are small. Its
 * memory: the reduced raster (RGBA, compacted to RGB in place) and its work (`vp8lStreamWorkBytes`), exact when
 * the bytes at hand hold the stream's structure (transform images and prefix codes), else the worst case.
 */
function losslessStreamingDecoder(bytes: Uint8Array, source: SourceInfo): SourceDecoder[] {
  const chunks = riffChunks(bytes);
  const vp8x = chunks.find((c) => c.type === "VP8X");
  if (vp8x && vp8x.body.length > 0 && (vp8x.body[0] & VP8X_ANIMATION) !== 0) return [];
  const bitstream = chunks.find((c) => c.type === "VP8L")?.body;
  if (!bitstream) return [];
  const needs = vp8lNeeds(bitstream);
  return [{
    name: "vp8l-stream",
    chooseScale: chooseDecodeScale,
    memory: ({ inputBytes, width, height, scale }) => {
      const rasterBytes = width * height * 4;
      return { rasterBytes, decodeBytes: inputBytes + rasterBytes + vp8lStreamWorkBytes(source.width, source.height, scale, needs) };
    },
    async decode(scale, { keepAlpha }) {
      const header = readVp8lHeader(bitstream);
      if (header.width !== source.width || header.height !== source.height) {
        throw new CodecError("corrupt", `WebP lossless bitstream is ${header.width}×${header.height}, the container says ${source.width}×${source.height}`);
      }
      const { raster, workBytes } = decodeVp8lScaled(bitstream, scale, keepAlpha);
      return { raster, decoderHeapBytes: workBytes };
    },
  }];
}

/** Preferred first: for a lossy still our scaled decoder, then jSquash's full-size one; for a lossless still, jSquash's, then our streaming one. */
function decodersOf(bytes: Uint8Array, source: SourceInfo, streamedIn?: boolean): SourceDecoder[] {
  const full: SourceDecoder = {
    name: "webp",
    // Calibrated in Node 22 from `memory.buffer.byteLength`: 16 MiB + 6·n on 1–12 MP images.
    memory: ({ inputBytes, width, height }) => rgbaDecodeMemory(inputBytes, 16 * MiB + inputBytes + 6 * width * height, width, height),
    decode: (_scale, context) => decodeWebp(bytes, context),
  };
  const alpha = lossyStillAlpha(bytes);
  // libwebp is used wherever its full-size plan fits; our streaming decoder takes lossless stills that do not.
  return alpha === undefined ? [full, ...losslessStreamingDecoder(bytes, source)] : [webpScaledDecoder(bytes, source, alpha, streamedIn), full];
}

/** For a lossy (VP8) still, how its alpha is coded; undefined for lossless and animated files. */
function lossyStillAlpha(bytes: Uint8Array): AlphaCoding | undefined {
  let alpha: AlphaCoding = "none";
  for (const { type, body } of riffChunks(bytes)) {
    if (type === "VP8X" && body.length > 0 && (body[0] & VP8X_ANIMATION) !== 0) return undefined;
    if (type === "ALPH" && body.length > 0) alpha = alphaCoding(body);
    if (type === "VP8L" || type === "ANMF") return undefined;
    if (type === "VP8 ") return alpha;
  }
  // Only a lossy frame carries an ALPH chunk: a header cut inside a large one still tells.
  return alpha === "none" ? undefined : alpha;
}

/** The top-level chunks inside the RIFF (bytes after it are trailing junk, which libwebp ignores). */
function riffChunks(bytes: Uint8Array): Array<{ type: string; body: Uint8Array }> {
  const end = Math.min(bytes.length, 8 + readU32LE(bytes, 4));
  const found: Array<{ type: string; body: Uint8Array }> = [];
  for (let p = 12; p + 8 <= end;) {
    const size = readU32LE(bytes, p + 4);
    found.push({ type: ascii(bytes, p, 4), body: bytes.subarray(p + 8, Math.min(end, p + 8 + size)) });
    p += 8 + size + (size & 1);
  }
  return found;
}

function probeWebp(bytes: Uint8Array): ImageHeader {
  const r = new Reader(bytes);
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
      header.orientation = exifOrientation(r.bytes.subarray(start, start + size));
    }
    r.pos = start + size + (size & 1);
    if (r.pos > r.bytes.length) break;
  }
  if (!sawFrame) throw new CodecError("corrupt", "WebP file has no image frame");
  return header;
}

/** Decodes a still, or an animation's first frame placed on its canvas. */
export async function decodeWebp(input: Uint8Array, { modules, codecs, keepAlpha }: DecodeContext): Promise<DecodeResult> {
  // libwebp's simple API refuses animations: decode the first frame as a still and place it on the canvas.
  const first = webpFirstFrame(input);
  const codec = await codecs.instantiateWebpDecoder(modules.webpDec);
  let image: CodecImage | null;
  try {
    image = codec.api.decode(first ? first.still : input);
  } catch (e) {
    throw asCodecError(e, "WebP decode", codec.messages);
  }
  if (!image) throw new CodecError("corrupt", `WebP decode failed: libwebp rejected the ${first ? "first frame of the animation" : "stream"}`);
  if (first) {
    if (image.width !== first.width || image.height !== first.height) {
      throw new CodecError("corrupt", `animated WebP: first frame's bitstream is ${image.width}×${image.height}, its ANMF chunk says ${first.width}×${first.height}`);
    }
    const frame = image.data instanceof Uint8Array ? image.data : new Uint8Array(image.data.buffer, image.data.byteOffset, image.data.byteLength);
    try {
      image = { data: placeOnCanvas(frame, first), width: first.canvasWidth, height: first.canvasHeight };
    } catch (e) {
      throw asCodecError(e, `animated WebP: placing the first frame on its ${first.canvasWidth}×${first.canvasHeight} canvas`);
    }
  }
  return { raster: rasterFromRgba(image, keepAlpha), decoderHeapBytes: codec.memory.buffer.byteLength };
}
