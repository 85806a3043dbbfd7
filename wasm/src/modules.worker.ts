/**
 * The engine's WebAssembly modules as static imports: wrangler bundles each `.wasm` import as a compiled
 * `WebAssembly.Module`, so the set is compiled once per isolate at startup. Only wrangler bundles this file;
 * Node never runs it (tests and the bench use modules.node.ts).
 *
 * The @jsquash packages declare no `exports` map, so their files are importable by package path.
 * SIMD builds are picked where a package ships one (WebP encoder); Workers' V8 has wasm SIMD.
 * Our own kernels come from wasm/build/ (git-ignored): `npm run build:wasm` must run before wrangler bundles.
 */
import mozjpegDec from "@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm";
import mozjpegEnc from "@jsquash/jpeg/codec/enc/mozjpeg_enc.wasm";
// @ts-expect-error the package's .wasm.d.ts types the instance exports; wrangler's default import is the Module.
import pngCodec from "@jsquash/png/codec/pkg/squoosh_png_bg.wasm";
import webpDec from "@jsquash/webp/codec/dec/webp_dec.wasm";
import webpEnc from "@jsquash/webp/codec/enc/webp_enc_simd.wasm";
import webpScaled from "../native/webp-scaled/webp_scaled.wasm";
import avifDec from "@jsquash/avif/codec/dec/avif_dec.wasm";
import avifEnc from "@jsquash/avif/codec/enc/avif_enc.wasm";
import heifDec from "libheif-js/libheif-wasm/libheif.wasm";
import resvg from "@resvg/resvg-wasm/index_bg.wasm";
import jpeg from "../build/jpeg.wasm";
import resize from "../build/resize.wasm";
import type { EngineModules } from "./modules.ts";

export const engineModules: EngineModules = {
  mozjpegDec,
  mozjpegEnc,
  pngCodec,
  webpDec,
  webpScaled,
  webpEnc,
  avifDec,
  avifEnc,
  heifDec,
  resvg,
  jpeg,
  resize,
};
