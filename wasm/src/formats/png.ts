/**
 * PNG (1–16-bit, palette, gray(+alpha), interlaced). Two decoders: @jsquash/png's Rust codec at full size (it
 * expands everything to RGBA8, sees only the signature, critical chunks and tRNS — codecs/png-chunks.ts leaves
 * out the ancillary chunks it would fail on — and its errors are reported by what our chunk walk finds), and
 * our streaming decoder with shrink-on-load (codecs/png-stream.ts) for images whose full-size decode does not
 * fit the budget.
 */
import { CodecError } from "../errors.ts";
import { exifOrientation, exifTiff } from "../exif.ts";
import { asCodecError, rasterFromRgba, rgbaDecodeMemory } from "../decode.ts";
import { pngIccProfile } from "../icc/containers.ts";
import { describePngDamage, pixelChunks } from "../codecs/png-chunks.ts";
import { decodePngScaled, pngStreamWorkBytes, type PngLayout } from "../codecs/png-stream.ts";
import { chooseDecodeScale } from "../plan.ts";
import type { Orientation } from "../raster.ts";
import type { SourceInfo } from "../targets.ts";
import { Reader, ascii, readU32 } from "./reader.ts";
import type { DecodeContext, DecodeResult, ImageFormatModule, ImageHeader, SourceDecoder } from "./types.ts";

const MiB = 1024 * 1024;

export const png: ImageFormatModule = {
  label: "PNG",
  contentType: "image/png",
  sniff: (b) => b.length >= 8 && ascii(b, 0, 8) === "\x89PNG\r\n\x1a\n",
  probe: probePng,
  planningDecoders: (bytes, source) => [fullDecoder(bytes), streamingDecoder(bytes, layoutOf(bytes, source))],
  read: (bytes, source) => ({
    // The Rust codec is ~2× faster than our streaming decoder on small and mid-size images (6 MP RGBA: ~300
    // vs ~680 ms) but needs a full-size RGBA raster and 5·n of heap: it is used wherever its plan fits.
    decoders: [fullDecoder(bytes), streamingDecoder(bytes, layoutOf(bytes, source))],
    exif: () => {
      const exif = beforeImageData(bytes).find((c) => c.type === "eXIf");
      return exif && exifTiff(exif.body);
    },
    iccProfile: () => {
      const iccp = beforeImageData(bytes).find((c) => c.type === "iCCP");
      return iccp && pngIccProfile(iccp.body);
    },
  }),
};

/** jSquash's Rust decoder at full size. */
function fullDecoder(bytes: Uint8Array): SourceDecoder {
  return {
    name: "png",
    // Calibrated in Node 22 from `memory.buffer.byteLength`: 4.3–5.8·n with the input, on 1–12 MP images.
    memory: ({ inputBytes, width, height }) => rgbaDecodeMemory(inputBytes, 1 * MiB + inputBytes + 5 * width * height, width, height),
    decode: (_scale, context) => decodePng(bytes, context),
  };
}

/** IHDR's fields, checked against what the probe said. */
function layoutOf(bytes: Uint8Array, source: SourceInfo): PngLayout {
  if (bytes.length < 33 || ascii(bytes, 12, 4) !== "IHDR") throw new CodecError("corrupt", "PNG does not start with an IHDR chunk");
  const at = 16;
  const layout = {
    width: readU32(bytes, at),
    height: readU32(bytes, at + 4),
    bitDepth: bytes[at + 8],
    colorType: bytes[at + 9],
    interlaced: bytes[at + 12] === 1,
  };
  if (layout.width !== source.width || layout.height !== source.height) {
    throw new CodecError("corrupt", `PNG header says ${layout.width}×${layout.height}, the probe said ${source.width}×${source.height}`);
  }
  return layout;
}

/**
 * Our streaming decoder (codecs/png-stream.ts) at the plan's scale: no full-size raster, so a 100 MP PNG fits
 * the budget when its targets are small. Its memory: the reduced raster (RGBA, compacted to RGB in place) and
 * its accumulators and scanlines (`pngStreamWorkBytes`).
 */
function streamingDecoder(bytes: Uint8Array, layout: PngLayout): SourceDecoder {
  return {
    name: "png-stream",
    chooseScale: chooseDecodeScale,
    memory: ({ inputBytes, width, height, scale }) => {
      const rasterBytes = width * height * 4;
      return { rasterBytes, decodeBytes: inputBytes + rasterBytes + pngStreamWorkBytes(layout, scale) };
    },
    async decode(scale, { keepAlpha }) {
      const { raster, workBytes } = decodePngScaled(bytes, layout, scale, keepAlpha);
      return { raster, decoderHeapBytes: workBytes };
    },
  };
}

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

/** jSquash's Rust decoder: the whole image to RGBA, compacted to RGB when it is opaque. */
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
