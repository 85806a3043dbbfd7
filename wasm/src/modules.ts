/**
 * The compiled WebAssembly modules the engine instantiates. Compiling is the expensive part (tens of ms for
 * the AVIF encoder), so callers compile once per isolate and pass the same set to every `renderTargets` call;
 * the engine creates a fresh, short-lived instance from them for each job (see `codecs/instances.ts`).
 */
export interface EngineModules {
  /** @jsquash/jpeg mozjpeg decoder: the fallback for JPEGs our own decoder refuses, or when `jpeg` is absent. */
  mozjpegDec: WebAssembly.Module;
  /** @jsquash/jpeg mozjpeg encoder. */
  mozjpegEnc: WebAssembly.Module;
  /** @jsquash/png (Rust `png` crate via wasm-bindgen): decoder and encoder in one module. */
  pngCodec: WebAssembly.Module;
  /** @jsquash/webp libwebp decoder. */
  webpDec: WebAssembly.Module;
  /**
   * Our libwebp 1.2.4 decoder build with scaling (wasm/native/webp-scaled, committed): large lossy WebP stills
   * decoded straight to the plan's size.
   */
  webpScaled: WebAssembly.Module;
  /** @jsquash/webp libwebp encoder, SIMD build. */
  webpEnc: WebAssembly.Module;
  /** @jsquash/avif libavif+dav1d decoder. */
  avifDec: WebAssembly.Module;
  /** @jsquash/avif libavif+aom encoder, single-threaded build (Workers have no wasm threads). */
  avifEnc: WebAssembly.Module;
  /** libheif-js's libheif + libde265 (HEVC) build: the HEIC decoder. */
  heifDec: WebAssembly.Module;
  /** @resvg/resvg-wasm (SVG rasteriser, wasm-bindgen; driven by codecs/resvg.ts). */
  resvg?: WebAssembly.Module;
  /** Our AssemblyScript JPEG decoder with DCT-domain downscaling (wasm/build/jpeg.wasm), when built. */
  jpeg?: WebAssembly.Module;
  /** Our AssemblyScript SIMD resize kernels (wasm/build/resize.wasm), when built. */
  resize?: WebAssembly.Module;
}
