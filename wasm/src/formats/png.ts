/**
 * PNG (8/16-bit, palette, gray(+alpha), interlaced): decoded by @jsquash/png's Rust codec, which expands
 * everything to RGBA8. It sees only the signature, critical chunks and tRNS (codecs/png-chunks.ts leaves out
 * the ancillary chunks it would fail on), and its errors are reported by what our chunk walk finds.
 */
import { CodecError } from "../errors.ts";
import { exifOrientation, exifTiff } from "../exif.ts";
import { asCodecError, rasterFromRgba, rgbaDecodeMemory } from "../decode.ts";
import { describePngDamage, pixelChunks } from "../codecs/png-chunks.ts";
import type { Orientation } from "../raster.ts";
import { Reader, ascii } from "./reader.ts";
import type { DecodeContext, DecodeResult, ImageFormatModule, ImageHeader } from "./types.ts";

const MiB = 1024 * 1024;

export const png: ImageFormatModule = {
  label: "PNG",
  contentType: "image/png",
  sniff: (b) => b.length >= 8 && ascii(b, 0, 8) === "\x89PNG\r\n\x1a\n",
  probe: probePng,
  read: (bytes) => ({
    decoders: [{
      name: "png",
      // Calibrated in Node 22 from `memory.buffer.byteLength`: 4.3–5.8·n with the input, on 1–12 MP images.
      memory: ({ inputBytes, width, height }) => rgbaDecodeMemory(inputBytes, 1 * MiB + inputBytes + 5 * width * height, width, height),
      decode: (_scale, context) => decodePng(bytes, context),
    }],
    exif: () => {
      const exif = beforeImageData(bytes).find((c) => c.type === "eXIf");
      return exif && exifTiff(exif.body);
    },
  }),
};

/** The chunks before the image data (IDAT), as far as they are whole: where tRNS, eXIf and acTL live. */
function beforeImageData(bytes: Uint8Array): Array<{ type: string; body: Uint8Array }> {
  const r = new Reader(bytes);
  r.pos = 8 + 8 + 13 + 4; // signature, IHDR
  const found: Array<{ type: string; body: Uint8Array }> = [];
  while (r.remaining() >= 8) {
    const length = r.u32be();
    const type = r.ascii(4);
    if (type === "IDAT" || type === "IEND") break;
    if (r.remaining() < length + 4) break;
    found.push({ type, body: bytes.subarray(r.pos, r.pos + length) });
    r.pos += length + 4;
  }
  return found;
}

function probePng(bytes: Uint8Array): ImageHeader {
  const r = new Reader(bytes);
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
  let hasAlpha = colorType === 4 || colorType === 6;
  let orientation: Orientation = 1;
  let animated = false;
  for (const chunk of beforeImageData(bytes)) {
    if (chunk.type === "tRNS") hasAlpha = true;
    if (chunk.type === "acTL") animated = true;
    if (chunk.type === "eXIf") orientation = exifOrientation(chunk.body);
  }
  return { format: "png", width, height, orientation, hasAlpha, progressive: interlace === 1, animated };
}

/** Decodes the whole image to RGBA and compacts it to RGB when it is opaque. */
export async function decodePng(input: Uint8Array, { modules, codecs, keepAlpha }: DecodeContext): Promise<DecodeResult> {
  let codec;
  try {
    codec = codecs.instantiatePngCodec(modules.pngCodec);
    // Only the chunks the pixels need: the crate fails the whole image on a malformed ancillary chunk.
    const image = codec.api.decode(pixelChunks(input));
    return { raster: rasterFromRgba(image, keepAlpha), decoderHeapBytes: codec.memory.buffer.byteLength };
  } catch (e) {
    if (e instanceof CodecError) throw e;
    // @jsquash/png reports every crate error as "`unwrap_throw` failed": say what is wrong ourselves.
    const damage = describePngDamage(input);
    if (damage) throw new CodecError("corrupt", `PNG decode failed: ${damage}`);
    if (e instanceof Error && /unwrap_throw/.test(e.message)) {
      throw new CodecError("corrupt", "PNG decode failed: the image data is damaged (compressed stream, scanline filters or header values)");
    }
    throw asCodecError(e, "PNG decode");
  }
}
