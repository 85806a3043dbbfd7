/**
 * WebP (lossy, lossless, alpha): decoded by libwebp's simple API. An animated one renders its first frame:
 * codecs/webp-animation.ts re-wraps the first ANMF frame's ALPH+VP8 or VP8L as a still and places it at its
 * offset on a transparent canvas of the VP8X size.
 */
import type { EngineModules } from "../modules.ts";
import { CodecError } from "../errors.ts";
import { exifOrientation, exifTiff } from "../exif.ts";
import { asCodecError, rasterFromRgba, rgbaDecodeMemory } from "../decode.ts";
import type { CodecImage } from "../codecs/instances.ts";
import { placeOnCanvas, webpFirstFrame } from "../codecs/webp-animation.ts";
import { Reader, ascii, readU32LE } from "./reader.ts";
import type { DecodeContext, DecodeResult, ImageFormatModule, ImageHeader } from "./types.ts";

const MiB = 1024 * 1024;

export const webp: ImageFormatModule = {
  label: "WebP",
  contentType: "image/webp",
  sniff: (b) => b.length >= 12 && ascii(b, 0, 4) === "RIFF" && ascii(b, 8, 4) === "WEBP",
  probe: probeWebp,
  // Their decoders are built from the bytes without reading them: the header is enough to plan with.
  planningDecoders: (bytes, source) => webp.read(bytes, source, {} as EngineModules).decoders,
  read: (bytes) => ({
    decoders: [{
      name: "webp",
      // Calibrated in Node 22 from `memory.buffer.byteLength`: 16 MiB + 6·n on 1–12 MP images.
      memory: ({ inputBytes, width, height }) => rgbaDecodeMemory(inputBytes, 16 * MiB + inputBytes + 6 * width * height, width, height),
      decode: (_scale, context) => decodeWebp(bytes, context),
    }],
    exif: () => {
      const exif = riffChunks(bytes).find((c) => c.type === "EXIF");
      return exif && exifTiff(exif.body);
    },
    iccProfile: () => riffChunks(bytes).find((c) => c.type === "ICCP")?.body,
  }),
};

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
