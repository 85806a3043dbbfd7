/**
 * The WebP decoder for large lossy stills: our libwebp build (codecs/webp-scaled.ts) decoding straight to the
 * plan's scale, so a 50 MP photo or a 24 MP panorama never exists at full size. Preferred for VP8 stills;
 * lossless (VP8L) and animations keep the jSquash decoder in webp.ts.
 *
 * Where the memory goes (libwebp 1.2.4, src/dec/frame_dec.c AllocateMemory, io_dec.c, alpha_dec.c): the file,
 * the output at the decoded size, per macroblock column ~2 KB of state and a 16–24 row YUV cache (all ∝ the
 * stored width), and — only with an ALPH chunk — two full-size alpha planes (1 B/px each: the frame's
 * `alpha_size` and the ALPH plane) plus, for a lossless-compressed alpha, the VP8L decoder's pixels (1 B/px when
 * the stream is palette-only, as libwebp's encoder writes alpha; up to 4 B/px otherwise: we plan for that).
 */
import { CodecError } from "../errors.ts";
import { dropAlphaInPlace, isOpaque } from "../pixels.ts";
import { chooseDecodeScale } from "../plan.ts";
import type { SourceInfo } from "../targets.ts";
// Imported directly, not through DecodeContext.codecs: it has no emscripten glue to keep out of the upload edge,
// and `inputMemory` (before any decode context exists) needs it.
import { instantiateWebpScaled, type WebpScaledInstance } from "../codecs/webp-scaled.ts";
import type { SourceDecoder } from "./types.ts";

const MiB = 1024 * 1024;

/** Linear memory of a fresh instance (1 MiB initial) plus what emmalloc rounds up and the rescaler's rows. */
const BASE_HEAP_BYTES = 2 * MiB;
/** Per stored-width pixel: VP8 macroblock state and the YUV cache (~2 KB per 16-pixel macroblock column). */
const BYTES_PER_COLUMN = 160;

/** Memory of a decode to `width × height`, for the plan (decode.ts's convention: caller's copy + heap + raster). */
export function webpScaledMemory(source: SourceInfo, alpha: AlphaCoding, m: { inputBytes: number; width: number; height: number }) {
  const channels = source.hasAlpha ? 4 : 3;
  const out = m.width * m.height * channels;
  const n = source.width * source.height;
  const alphaBytes = alpha === "none" ? 0 : alpha === "raw" ? 2 * n : 6 * n;
  const heap = BASE_HEAP_BYTES + m.inputBytes + BYTES_PER_COLUMN * source.width + out + alphaBytes;
  // The raster is copied out of the instance: for a moment both exist.
  return { rasterBytes: out, decodeBytes: m.inputBytes + heap + out };
}

/** How an ALPH chunk is compressed (its first byte, bits 0–1), or none when the still has no ALPH. */
export type AlphaCoding = "none" | "raw" | "lossless";

/** A file the engine streamed into an instance's memory (`allocateStreamedInput`), by the view it wrote through. */
const streamedInto = new WeakMap<Uint8Array, WebpScaledInstance>();

/** An instance holding room for the file, and the view to stream it in through (formats' `inputMemory`). */
export function allocateStreamedInput(module: WebAssembly.Module, byteLength: number): Uint8Array {
  const instance = instantiateWebpScaled(module);
  const view = instance.allocateInput(byteLength);
  streamedInto.set(view, instance);
  return view;
}

/**
 * The decoder for `bytes` (a lossy still whose ALPH, if any, is coded as `alpha`). `holdsInput`: the engine
 * streamed the file into the instance (planning an upload assumes it will).
 */
export function webpScaledDecoder(bytes: Uint8Array, source: SourceInfo, alpha: AlphaCoding, holdsInput = streamedInto.has(bytes)): SourceDecoder {
  return {
    name: "webp-scaled",
    chooseScale: chooseDecodeScale,
    holdsInput,
    memory: (m) => webpScaledMemory(source, alpha, m),
    async decode(scale, { modules, keepAlpha }) {
      const instance = streamedInto.get(bytes) ?? instantiateWebpScaled(modules.webpScaled);
      streamedInto.delete(bytes);
      const width = Math.ceil(source.width / scale), height = Math.ceil(source.height / scale);
      const channels = source.hasAlpha ? 4 : 3;
      const data = instance.decode({ input: holdsInput ? undefined : bytes, width, height, channels });
      const decoderHeapBytes = instance.memory.buffer.byteLength;
      if (data.length !== width * height * channels) throw new CodecError("corrupt", "WebP decode returned a short pixel buffer");
      if (channels === 4 && !(keepAlpha && !isOpaque(data))) return { raster: dropAlphaInPlace(data, width, height), decoderHeapBytes };
      return { raster: { data, width, height, channels }, decoderHeapBytes };
    },
  };
}
