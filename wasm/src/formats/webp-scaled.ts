/**
 * The WebP decoder for large lossy stills: our libwebp build (codecs/webp-scaled.ts) decoding straight to the
 * plan's scale, so a 50 MP photo or a 24 MP panorama never exists at full size. Preferred for VP8 stills;
 * lossless (VP8L) and animations keep the jSquash decoder in webp.ts.
 *
 * Where the memory goes (libwebp 1.2.4, src/dec/frame_dec.c AllocateMemory, io_dec.c, alpha_dec.c): the file,
 * the output at the decoded size, per macroblock column ~2 KB of state and a 16–24 row YUV cache (all ∝ the
 * stored width), and — only with an ALPH chunk — two full-size alpha planes (1 B/px each: the frame's
 * `alpha_size` and the ALPH plane) plus, for a lossless-compressed alpha, the VP8L decoder's pixels: 1 B/px when
 * its stream starts with a colour-indexing transform (libwebp's 8-bit path; its encoder writes that at effort 0,
 * or for few alpha levels), else 4 B/px of ARGB for the whole image (what LZ77 over the plane needs). Measured in
 * Node 22 on 1–4 MP RGBA, beyond the file and the output: 2.2–2.5·n and 5.2–6.0·n of heap.
 * The decode may not grow past the modelled heap (codecs/webp-scaled.ts): a stream that would (a palette
 * followed by more transforms or a colour cache, which the 8-bit path refuses) stops with `limit`.
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
  const heap = BASE_HEAP_BYTES + m.inputBytes + BYTES_PER_COLUMN * source.width + out + ALPHA_BYTES_PER_PIXEL[alpha] * n;
  // The raster is copied out of the instance: for a moment both exist.
  return { heap, rasterBytes: out, decodeBytes: m.inputBytes + heap + out };
}

/**
 * How a still's ALPH chunk is coded: none (no ALPH), raw (method 0), palette (method 1 whose VP8L stream starts
 * with a colour-indexing transform: decoded 8-bit), lossless (method 1 otherwise: decoded 32-bit).
 */
export type AlphaCoding = "none" | "raw" | "palette" | "lossless";

const ALPHA_BYTES_PER_PIXEL: Record<AlphaCoding, number> = { none: 0, raw: 2, palette: 3, lossless: 6.25 };

/** The coding of an ALPH chunk's payload (its header byte, then for method 1 the VP8L stream's first bits). */
export function alphaCoding(alph: Uint8Array): AlphaCoding {
  if ((alph[0] & 3) === 0) return "raw";
  // The VP8L bit reader is LSB first: bit 0 "a transform follows", bits 1–2 its type (3 = colour indexing).
  return alph.length > 1 && (alph[1] & 7) === 0b111 ? "palette" : "lossless";
}

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
  // Taken now: a view of the file in the instance's memory reads as empty once the decode has grown it.
  const inputBytes = bytes.length;
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
      const { heap } = webpScaledMemory(source, alpha, { inputBytes, width, height });
      const data = instance.decode({ input: holdsInput ? undefined : bytes, width, height, channels, heapLimitBytes: heap });
      const decoderHeapBytes = instance.memory.buffer.byteLength;
      if (data.length !== width * height * channels) throw new CodecError("corrupt", "WebP decode returned a short pixel buffer");
      if (channels === 4 && !(keepAlpha && !isOpaque(data))) return { raster: dropAlphaInPlace(data, width, height), decoderHeapBytes };
      return { raster: { data, width, height, channels }, decoderHeapBytes };
    },
  };
}
