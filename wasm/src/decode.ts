/**
 * What the format modules' decoders share (formats/*.ts hold the decoders themselves): every decoder failure
 * becomes a CodecError — `corrupt` for a damaged stream, never a raw RuntimeError — and jSquash's RGBA output
 * becomes our raster.
 */
import { CodecError } from "./errors.ts";
import type { Raster } from "./raster.ts";
import type { CodecImage } from "./codecs/instances.ts";
import { dropAlphaInPlace, isOpaque } from "./pixels.ts";

export type { DecodeContext, DecodeResult } from "./formats/types.ts";

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

/** Keeps 4 channels only when the image really has alpha, so opaque images resize 25% faster. */
export function rasterFromRgba(image: CodecImage, keepAlpha: boolean): Raster {
  const data = image.data instanceof Uint8Array ? image.data : new Uint8Array(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  if (data.length !== image.width * image.height * 4) throw new CodecError("corrupt", "decoder returned a short pixel buffer");
  if (keepAlpha && !isOpaque(data)) return { data, width: image.width, height: image.height, channels: 4 };
  return dropAlphaInPlace(data, image.width, image.height);
}

/**
 * Memory model of a jSquash decoder: it copies RGBA out of its heap (`heapBytes`, input copy included) and we
 * compact that to RGB in place, so the raster stays at 4 bytes per pixel.
 */
export function rgbaDecodeMemory(inputBytes: number, heapBytes: number, width: number, height: number): { rasterBytes: number; decodeBytes: number } {
  const rasterBytes = width * height * 4;
  return { rasterBytes, decodeBytes: inputBytes + heapBytes + rasterBytes };
}
