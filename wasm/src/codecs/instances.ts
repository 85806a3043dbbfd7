/**
 * Per-job instances of the jSquash codecs.
 *
 * Why per job: an emscripten or wasm-bindgen instance keeps its linear memory for as long as it lives, and
 * wasm memory only ever grows. jSquash's own `init()` keeps one instance per codec for the life of the isolate,
 * so one 50 MP decode would pin a ~250 MB heap forever. Instead we instantiate from the cached compiled
 * `WebAssembly.Module` for each job and drop the instance when the call returns; the heap becomes garbage
 * with it. Instantiation from a compiled module costs ~1–4 ms (measured in Node 22 for mozjpeg/webp), which
 * is noise next to a decode.
 *
 * We call the emscripten factories directly (not jSquash's `decode`/`encode` wrappers, which hold a module-level
 * singleton), and drive the PNG codec's wasm-bindgen exports through our own minimal glue, because its
 * generated glue also refuses to re-instantiate.
 */
import mozjpegDecFactory from "@jsquash/jpeg/codec/dec/mozjpeg_dec.js";
import mozjpegEncFactory from "@jsquash/jpeg/codec/enc/mozjpeg_enc.js";
import webpDecFactory from "@jsquash/webp/codec/dec/webp_dec.js";
import webpEncFactory from "@jsquash/webp/codec/enc/webp_enc_simd.js";
import avifDecFactory from "@jsquash/avif/codec/dec/avif_dec.js";
import avifEncFactory from "@jsquash/avif/codec/enc/avif_enc.js";
import heifDecFactory from "libheif-js/libheif-wasm/libheif.js";
import { bindgenObjects } from "./bindgen.ts";

export { instantiateResvg } from "./resvg.ts";

/** Pixels as the jSquash codecs hand them over: RGBA, 8 bits per sample. */
export interface CodecImage {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
}

export interface MozjpegDecoder {
  /** `preserveOrientation = true` makes mozjpeg apply EXIF orientation itself; we always pass false. */
  decode(data: Uint8Array, preserveOrientation: boolean): CodecImage | null;
}
export interface MozjpegEncoder {
  encode(data: Uint8Array | Uint8ClampedArray, width: number, height: number, options: object): Uint8Array;
}
export interface WebpDecoder {
  decode(data: Uint8Array): CodecImage | null;
}
export interface WebpEncoder {
  encode(data: Uint8Array | Uint8ClampedArray, width: number, height: number, options: object): Uint8Array | null;
}
export interface AvifDecoder {
  decode(data: Uint8Array, bitDepth: 8): CodecImage | null;
}
export interface AvifEncoder {
  encode(data: Uint8Array, width: number, height: number, options: object): Uint8Array | null;
}

/** One live codec instance: its API, its linear memory (for accounting) and the messages it printed. */
export interface CodecInstance<Api> {
  api: Api;
  memory: WebAssembly.Memory;
  messages: string[];
}

type EmscriptenFactory = (options: object) => Promise<unknown>;

async function instantiateEmscripten<Api>(factory: unknown, module: WebAssembly.Module): Promise<CodecInstance<Api>> {
  let memory: WebAssembly.Memory | undefined;
  const messages: string[] = [];
  const api = await (factory as EmscriptenFactory)({
    noInitialRun: true,
    // Swallow the codecs' stdout/stderr; keep stderr lines to explain a failure.
    print: () => {},
    printErr: (line: string) => {
      if (messages.length < 8) messages.push(String(line));
    },
    instantiateWasm: (imports: WebAssembly.Imports, done: (instance: WebAssembly.Instance) => void) => {
      const instance = new WebAssembly.Instance(module, imports);
      memory = Object.values(instance.exports).find((e): e is WebAssembly.Memory => e instanceof WebAssembly.Memory);
      done(instance);
      return instance.exports;
    },
  });
  if (!memory) throw new Error("codec module exports no memory");
  return { api: api as Api, memory, messages };
}

export const instantiateMozjpegDecoder = (m: WebAssembly.Module) => instantiateEmscripten<MozjpegDecoder>(mozjpegDecFactory, m);
export const instantiateMozjpegEncoder = (m: WebAssembly.Module) => instantiateEmscripten<MozjpegEncoder>(mozjpegEncFactory, m);
export const instantiateWebpDecoder = (m: WebAssembly.Module) => instantiateEmscripten<WebpDecoder>(webpDecFactory, m);
export const instantiateWebpEncoder = (m: WebAssembly.Module) => instantiateEmscripten<WebpEncoder>(webpEncFactory, m);
/**
 * Linear memory an idle WebP encoder may keep between jobs: libwebp's initial heap, so only an instance no job
 * ever grew is reused. Reuse saves the instantiation and the first-touch page faults of a fresh 16 MiB heap
 * (measured ~1–1.5 ms of a 15–20 ms 12 MP thumbnail); anything a big encode grew beyond this is dropped with its instance.
 */
export const REUSABLE_ENCODER_HEAP_BYTES = 16 * 1024 * 1024;

/** At most one idle WebP encoder per compiled module, keyed weakly so a dropped module set takes it along. */
const idleWebpEncoders = new WeakMap<WebAssembly.Module, CodecInstance<WebpEncoder>>();

/** An idle WebP encoder from an earlier job if there is one, else a fresh instance. Give it back with `releaseWebpEncoder`. */
export async function acquireWebpEncoder(m: WebAssembly.Module): Promise<CodecInstance<WebpEncoder>> {
  const idle = idleWebpEncoders.get(m);
  if (!idle) return instantiateWebpEncoder(m);
  idleWebpEncoders.delete(m); // two interleaved jobs never share an instance
  idle.messages.length = 0;
  return idle;
}

/**
 * Keeps `codec` for the next job only if the caller asks to (`keep`: the encode succeeded and the job's budget
 * has room) and its heap is still within REUSABLE_ENCODER_HEAP_BYTES; otherwise its heap becomes garbage.
 */
export function releaseWebpEncoder(m: WebAssembly.Module, codec: CodecInstance<WebpEncoder>, keep: boolean): void {
  if (keep && codec.memory.buffer.byteLength <= REUSABLE_ENCODER_HEAP_BYTES && !idleWebpEncoders.has(m)) {
    idleWebpEncoders.set(m, codec);
  }
}

/** Drops the idle WebP encoder (before a job that needs its memory). */
export function dropIdleWebpEncoder(m: WebAssembly.Module): void {
  idleWebpEncoders.delete(m);
}

/** Linear memory held by the idle WebP encoder of `m` between jobs (0 if none). */
export function idleWebpEncoderBytes(m: WebAssembly.Module): number {
  return idleWebpEncoders.get(m)?.memory.buffer.byteLength ?? 0;
}

export const instantiateAvifDecoder = (m: WebAssembly.Module) => instantiateEmscripten<AvifDecoder>(avifDecFactory, m);
export const instantiateAvifEncoder = (m: WebAssembly.Module) => instantiateEmscripten<AvifEncoder>(avifEncFactory, m);

/**
 * libheif's C API as libheif-js exports it (emscripten: a struct returned by value, `heif_error`, is written
 * through a leading pointer argument). We use the raw functions rather than its embind wrappers: only they
 * take decoding options (ignore_transformations) and decode a grid tile by tile.
 */
export interface HeifDecoder {
  HEAPU8: Uint8Array;
  _malloc(bytes: number): number;
  _free(ptr: number): void;
  _heif_context_alloc(): number;
  _heif_context_free(context: number): void;
  _heif_context_read_from_memory_without_copy(error: number, context: number, data: number, size: number, options: number): void;
  _heif_context_get_primary_image_handle(error: number, context: number, handleOut: number): void;
  _heif_image_handle_release(handle: number): void;
  _heif_decoding_options_alloc(): number;
  _heif_decoding_options_free(options: number): void;
  _heif_decode_image(error: number, handle: number, imageOut: number, colorspace: number, chroma: number, options: number): void;
  _heif_image_handle_decode_image_tile(error: number, handle: number, imageOut: number, colorspace: number, chroma: number, options: number, tileX: number, tileY: number): void;
  _heif_image_get_width(image: number, channel: number): number;
  _heif_image_get_height(image: number, channel: number): number;
  _heif_image_get_plane_readonly(image: number, channel: number, strideOut: number): number;
  _heif_image_release(image: number): void;
}

/** A fresh libheif (with libde265) instance, for one HEIC decode. */
export const instantiateHeifDecoder = (m: WebAssembly.Module) =>
  instantiateEmscripten<HeifDecoder>((options: object) => withCommonJsDirname(() => (heifDecFactory as unknown as EmscriptenFactory)(options)), m);

/**
 * libheif-js's glue is CommonJS and takes any runtime with `process.versions.node` for Node, workerd included,
 * where it then reads `__dirname` (which only Node's CommonJS wrapper defines) as the factory starts. It only
 * builds a file path from it that we never use (the module comes through `instantiateWasm`), so it gets one for
 * that synchronous moment, and the global is gone again before anything else runs.
 */
function withCommonJsDirname<T>(start: () => T): T {
  const global = globalThis as { __dirname?: string };
  if (global.__dirname !== undefined) return start();
  global.__dirname = "/";
  try {
    return start();
  } finally {
    delete global.__dirname;
  }
}

export interface PngCodec {
  /**
   * Decodes any PNG (palette, gray, 16-bit, interlaced) to 8-bit RGBA. `data` may come in parts (the stream
   * with chunks left out): they are concatenated straight into the codec's memory, the stream's only copy.
   */
  decode(data: Uint8Array | Uint8Array[]): CodecImage;
  /** Encodes 8-bit RGBA. */
  encode(data: Uint8Array, width: number, height: number): Uint8Array;
}

/**
 * A fresh instance of @jsquash/png's Rust codec with our own wasm-bindgen glue. The imports are matched by
 * prefix because wasm-bindgen suffixes them with a hash; an import we do not know fails loudly here.
 */
export function instantiatePngCodec(module: WebAssembly.Module): CodecInstance<PngCodec> {
  const { objects, hold, take } = bindgenObjects();
  let exports: Record<string, any>;
  const bytes = () => new Uint8Array((exports.memory as WebAssembly.Memory).buffer);

  const shims: Array<[string, (...args: number[]) => unknown]> = [
    ["__wbindgen_memory", () => hold(exports.memory)],
    ["__wbg_buffer_", (h) => hold((objects.get(h) as WebAssembly.Memory).buffer)],
    ["__wbg_newwithbyteoffsetandlength_", (h, offset, length) =>
      hold(new Uint16Array(objects.get(h) as ArrayBuffer, offset >>> 0, length >>> 0))],
    ["__wbindgen_object_drop_ref", (h) => void take(h)],
    ["__wbg_newwithownedu8clampedarrayandsh_", (ptr, len, width, height) => {
      const data = bytes().slice(ptr >>> 0, (ptr >>> 0) + len);
      exports.__wbindgen_free(ptr, len, 1);
      return hold({ data, width: width >>> 0, height: height >>> 0 });
    }],
    ["__wbindgen_throw", (ptr, len) => {
      throw new Error(new TextDecoder().decode(bytes().subarray(ptr >>> 0, (ptr >>> 0) + len)));
    }],
  ];
  const imports: Record<string, Record<string, unknown>> = {};
  for (const { module: ns, name } of WebAssembly.Module.imports(module)) {
    const shim = shims.find(([prefix]) => name.startsWith(prefix));
    if (!shim) throw new Error(`@jsquash/png needs an import we do not provide: ${ns}.${name}`);
    (imports[ns] ??= {})[name] = shim[1];
  }
  const instance = new WebAssembly.Instance(module, imports as WebAssembly.Imports);
  exports = instance.exports as Record<string, any>;

  const pass = (data: Uint8Array) => {
    const ptr = exports.__wbindgen_malloc(data.length, 1) >>> 0;
    bytes().set(data, ptr);
    return ptr;
  };

  const api: PngCodec = {
    decode(data) {
      const parts = Array.isArray(data) ? data : [data];
      const length = parts.reduce((n, part) => n + part.length, 0);
      const ptr = exports.__wbindgen_malloc(length, 1) >>> 0;
      let at = ptr;
      for (const part of parts) {
        bytes().set(part, at);
        at += part.length;
      }
      return take(exports.decode(ptr, length)) as CodecImage;
    },
    encode(data, width, height) {
      const retptr = exports.__wbindgen_add_to_stack_pointer(-16);
      try {
        const ptr = pass(data);
        exports.encode(retptr, ptr, data.length, width, height, 8);
        const words = new Int32Array((exports.memory as WebAssembly.Memory).buffer, retptr, 2);
        const [outPtr, outLen] = [words[0] >>> 0, words[1] >>> 0];
        const out = bytes().slice(outPtr, outPtr + outLen);
        exports.__wbindgen_free(outPtr, outLen, 1);
        return out;
      } finally {
        exports.__wbindgen_add_to_stack_pointer(16);
      }
    },
  };
  return { api, memory: exports.memory as WebAssembly.Memory, messages: [] };
}
