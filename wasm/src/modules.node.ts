/**
 * Loads the engine's WebAssembly modules from node_modules and wasm/build with fs, for tests and the bench.
 * Never bundled into a Worker (see modules.worker.ts for that).
 */
import { readFile, access } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import type { EngineModules } from "./modules.ts";

const root = fileURLToPath(new URL("../../", import.meta.url));
const jsquash = `${root}node_modules/@jsquash/`;

const required = {
  mozjpegDec: `${jsquash}jpeg/codec/dec/mozjpeg_dec.wasm`,
  mozjpegEnc: `${jsquash}jpeg/codec/enc/mozjpeg_enc.wasm`,
  pngCodec: `${jsquash}png/codec/pkg/squoosh_png_bg.wasm`,
  webpDec: `${jsquash}webp/codec/dec/webp_dec.wasm`,
  webpScaled: `${root}wasm/native/webp-scaled/webp_scaled.wasm`,
  webpEnc: `${jsquash}webp/codec/enc/webp_enc_simd.wasm`,
  avifDec: `${jsquash}avif/codec/dec/avif_dec.wasm`,
  avifEnc: `${jsquash}avif/codec/enc/avif_enc.wasm`,
  heifDec: `${root}node_modules/libheif-js/libheif-wasm/libheif.wasm`,
  resvg: `${root}node_modules/@resvg/resvg-wasm/index_bg.wasm`,
} as const;

const optional = {
  jpeg: `${root}wasm/build/jpeg.wasm`,
  resize: `${root}wasm/build/resize.wasm`,
} as const;

export interface LoadOptions {
  /** Include our own kernels when wasm/build has them (default true). False forces the jSquash-only path. */
  kernels?: boolean;
}

const cache = new Map<string, Promise<WebAssembly.Module>>();

function compile(path: string): Promise<WebAssembly.Module> {
  const cached = cache.get(path);
  if (cached) return cached;
  const module = readFile(path).then((bytes) => WebAssembly.compile(bytes));
  cache.set(path, module);
  return module;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(() => true, () => false);
}

/** Compiles (once per process) and returns the engine's module set. */
export async function loadEngineModules(options: LoadOptions = {}): Promise<EngineModules> {
  const entries = await Promise.all(
    Object.entries(required).map(async ([name, path]) => [name, await compile(path)] as const),
  );
  const modules = Object.fromEntries(entries) as unknown as EngineModules;
  if (options.kernels !== false) {
    for (const [name, path] of Object.entries(optional)) {
      if (await exists(path)) modules[name as keyof typeof optional] = await compile(path);
    }
  }
  return modules;
}
