/**
 * Decode step: the whole source, once, to an 8-bit raster in stored orientation.
 * JPEG goes through our DCT-scaling decoder when the engine has it (see kernels.ts) and through mozjpeg
 * otherwise; PNG, WebP and AVIF through jSquash; GIF's first frame through our own decoder (codecs/gif.ts).
 * Every decoder failure becomes a CodecError: `corrupt` for a damaged stream, never a raw RuntimeError.
 */
import { CodecError } from "./errors.ts";
import type { Raster } from "./raster.ts";
import type { EngineModules } from "./modules.ts";
import type { SourceFormat } from "./targets.ts";
import {
  instantiateAvifDecoder,
  instantiateMozjpegDecoder,
  instantiatePngCodec,
  instantiateWebpDecoder,
  type CodecImage,
} from "./codecs/instances.ts";
import { decodeGifFirstFrame } from "./codecs/gif.ts";
import { describePngDamage, pixelChunks } from "./codecs/png-chunks.ts";
import { placeOnCanvas, webpFirstFrame } from "./codecs/webp-animation.ts";
import { dropAlphaInPlace, isOpaque } from "./pixels.ts";
import { readJpegMarkers } from "./jpeg-markers.ts";

/** Turns whatever a decoder threw into a CodecError that says what failed. */
export function asCodecError(e: unknown, what: string, messages: string[] = []): CodecError {
  if (e instanceof CodecError) return e;
  // Emscripten throws RuntimeError on abort/trap, ExitStatus objects on exit(), numbers for C++ exceptions.
  const reason = e instanceof Error ? `${e.name}: ${e.message}`
    : typeof e === "object" && e !== null && "message" in e ? String((e as { message: unknown }).message)
    : typeof e === "number" ? "native exception"
    : String(e);
  const detail = messages.length ? ` (${messages.join("; ")})` : "";
  return new CodecError("corrupt", `${what} failed: ${reason}${detail}`);
}

export interface DecodeResult {
  raster: Raster;
  /** Linear memory the decoder instance had grown to, for the peak-memory record. */
  decoderHeapBytes: number;
}

/** Keeps 4 channels only when the image really has alpha, so opaque images resize 25% faster. */
function fromRgba(image: CodecImage, keepAlpha: boolean): Raster {
  const data = image.data instanceof Uint8Array ? image.data : new Uint8Array(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  if (data.length !== image.width * image.height * 4) throw new CodecError("corrupt", "decoder returned a short pixel buffer");
  if (keepAlpha && !isOpaque(data)) return { data, width: image.width, height: image.height, channels: 4 };
  return dropAlphaInPlace(data, image.width, image.height);
}

export async function decodeWithMozjpeg(input: Uint8Array, modules: EngineModules): Promise<DecodeResult> {
  const markers = readJpegMarkers(input);
  if (!markers.frame) throw new CodecError("corrupt", "JPEG has no frame header (SOF)");
  if (!markers.complete) throw new CodecError("corrupt", "JPEG is truncated: no end-of-image marker");
  const { frame } = markers;
  if (frame.arithmetic) throw new CodecError("unsupported", "arithmetic-coded JPEG: neither our decoder nor jSquash's mozjpeg build implements it");
  if (frame.precision !== 8) throw new CodecError("unsupported", `${frame.precision}-bit JPEG: only 8-bit samples are supported`);
  if (frame.lossless) throw new CodecError("unsupported", "lossless JPEG is not supported");
  if (frame.components.length === 4) {
    // jSquash's mozjpeg build decodes straight to RGBA, and libjpeg cannot convert CMYK/YCCK to RGB.
    throw new CodecError("unsupported", "CMYK/YCCK JPEG: the mozjpeg fallback cannot convert it to RGB (needs our JPEG decoder)");
  }
  const codec = await instantiateMozjpegDecoder(modules.mozjpegDec);
  let image: CodecImage | null;
  try {
    image = codec.api.decode(input, false);
  } catch (e) {
    // libjpeg reports features the build lacks ("... not implemented", "Unsupported ...") through exit().
    if (codec.messages.some((m) => /not implemented|unsupported/i.test(m))) {
      throw new CodecError("unsupported", `JPEG decode (mozjpeg): ${codec.messages.join("; ")}`);
    }
    throw asCodecError(e, "JPEG decode (mozjpeg)", codec.messages);
  }
  if (!image) throw new CodecError("corrupt", `JPEG decode (mozjpeg) failed${codec.messages.length ? `: ${codec.messages.join("; ")}` : ""}`);
  return { raster: fromRgba(image, false), decoderHeapBytes: codec.memory.buffer.byteLength };
}

export async function decodePng(input: Uint8Array, modules: EngineModules, keepAlpha: boolean): Promise<DecodeResult> {
  let codec;
  try {
    codec = instantiatePngCodec(modules.pngCodec);
    // Only the chunks the pixels need: the crate fails the whole image on a malformed ancillary chunk.
    const image = codec.api.decode(pixelChunks(input));
    return { raster: fromRgba(image, keepAlpha), decoderHeapBytes: codec.memory.buffer.byteLength };
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

export async function decodeWebp(input: Uint8Array, modules: EngineModules, keepAlpha: boolean): Promise<DecodeResult> {
  // libwebp's simple API refuses animations: decode the first frame as a still and place it on the canvas.
  const first = webpFirstFrame(input);
  const codec = await instantiateWebpDecoder(modules.webpDec);
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
  return { raster: fromRgba(image, keepAlpha), decoderHeapBytes: codec.memory.buffer.byteLength };
}

export async function decodeAvif(input: Uint8Array, modules: EngineModules, keepAlpha: boolean): Promise<DecodeResult> {
  const codec = await instantiateAvifDecoder(modules.avifDec);
  let image: CodecImage | null;
  try {
    image = codec.api.decode(input, 8);
  } catch (e) {
    throw asCodecError(e, "AVIF decode", codec.messages);
  }
  if (!image) throw new CodecError("corrupt", "AVIF decode failed: libavif rejected the stream");
  return { raster: fromRgba(image, keepAlpha), decoderHeapBytes: codec.memory.buffer.byteLength };
}

/** First frame of a GIF, composited on a transparent canvas of the logical screen size. */
export function decodeGif(input: Uint8Array, keepAlpha: boolean): DecodeResult {
  try {
    return { raster: fromRgba(decodeGifFirstFrame(input), keepAlpha), decoderHeapBytes: 0 };
  } catch (e) {
    throw asCodecError(e, "GIF decode");
  }
}
