/**
 * Our own build of libwebp's decoder (wasm/native/webp-scaled: libwebp 1.2.4 from Debian, decoder sources only,
 * and webp_scaled.c), loaded without emscripten glue: the module imports one function, and it is instantiated
 * fresh per job like the jSquash codecs (codecs/instances.ts), so its heap goes with the job.
 *
 * It decodes a WebP straight to the size the plan asks for (libwebp's `use_scaling`); for a lossy stream
 * that happens macroblock row by macroblock row, so no full-size raster exists.
 */
import { CodecError } from "../errors.ts";

interface WebpScaledExports {
  memory: WebAssembly.Memory;
  _initialize(): void;
  ws_alloc(size: number): number;
  ws_free(ptr: number): void;
  ws_decode(data: number, size: number, cropLeft: number, cropTop: number, cropWidth: number, cropHeight: number, outWidth: number, outHeight: number, channels: number, out: number): number;
}

/** libwebp's VP8StatusCode, as ws_decode returns it. */
const STATUS = ["ok", "out of memory", "invalid parameter", "bitstream error", "unsupported feature", "suspended", "user abort", "not enough data"];

/** One instance, holding (at most) one input file in its memory. */
export interface WebpScaledInstance {
  memory: WebAssembly.Memory;
  /**
   * Room for the `byteLength`-byte file in the instance's memory; write it through the returned view before
   * the first `decode` (which grows the memory and detaches the view).
   */
  allocateInput(byteLength: number): Uint8Array;
  /**
   * Decodes the file (allocated above, or copied in from `input`) to `width × height` × `channels`, copied out.
   * `heapLimitBytes`: the instance's memory may not grow past it (the plan's estimate): the decode stops there
   * with a `limit` CodecError instead of taking memory the plan gave to no one.
   */
  decode(request: { input?: Uint8Array; width: number; height: number; channels: 3 | 4; heapLimitBytes?: number }): Uint8Array;
}

/** Thrown from the memory-growth callback, through libwebp's frames, when a decode outgrows its limit. */
class HeapLimitExceeded extends Error {}

/** A fresh instance of `module` (wasm/native/webp-scaled/webp_scaled.wasm). */
export function instantiateWebpScaled(module: WebAssembly.Module): WebpScaledInstance {
  // Memory growth is announced to the embedder (our views are re-made from `memory.buffer` on every use): past
  // the limit, the throw unwinds libwebp's frames, and the instance, its state now undefined, is dropped.
  let heapLimit = Infinity;
  const onGrowth = () => {
    if (wasm.memory.buffer.byteLength > heapLimit) throw new HeapLimitExceeded();
  };
  const instance = new WebAssembly.Instance(module, { env: { emscripten_notify_memory_growth: onGrowth } });
  const wasm = instance.exports as unknown as WebpScaledExports;
  wasm._initialize();
  let file: { ptr: number; length: number } | undefined;
  const allocate = (bytes: number, what: string) => {
    const ptr = wasm.ws_alloc(bytes) >>> 0;
    if (ptr === 0) throw new CodecError("limit", `WebP decode: no memory for the ${what} (${bytes} bytes)`);
    return ptr;
  };
  return {
    memory: wasm.memory,
    allocateInput(byteLength) {
      if (file) throw new Error("webp-scaled: the instance already holds a file");
      file = { ptr: allocate(Math.max(1, byteLength), "input"), length: byteLength };
      return new Uint8Array(wasm.memory.buffer, file.ptr, byteLength);
    },
    decode({ input, width, height, channels, heapLimitBytes = Infinity }) {
      heapLimit = heapLimitBytes;
      if (input) this.allocateInput(input.length).set(input);
      if (!file) throw new Error("webp-scaled: no input");
      const size = width * height * channels;
      let status: number;
      try {
        const out = allocate(size, `${width}×${height} output`);
        status = wasm.ws_decode(file.ptr, file.length, 0, 0, 0, 0, width, height, channels, out);
        if (status === 0) return new Uint8Array(wasm.memory.buffer, out, size).slice();
      } catch (e) {
        if (!(e instanceof HeapLimitExceeded)) throw e;
        throw new CodecError("limit", `WebP decode (libwebp, scaled to ${width}×${height}) needed more than the ${Math.ceil(heapLimit / 2 ** 20)} MB of memory planned for it`);
      } finally {
        heapLimit = Infinity;
      }
      const kind = status === 1 ? "limit" : status === 4 ? "unsupported" : "corrupt";
      throw new CodecError(kind, `WebP decode (libwebp, scaled to ${width}×${height}) failed: ${STATUS[status] ?? `status ${status}`}`);
    },
  };
}
