/**
 * The seam to our own AssemblyScript kernels (wasm/src/jpeg.ts, wasm/src/resize.ts). They are developed on
 * their own branches; until they are merged, `kernels` is undefined and the engine runs on jSquash plus the
 * TypeScript resampler in pixels.ts. Switching them on = importing them here (see wasm/README.md).
 * The engine only uses them when the caller also provides their compiled modules (`modules.jpeg`,
 * `modules.resize`), so a Worker can ship without them.
 */
import type { Orientation, Raster, Rect } from "./raster.ts";

export interface JpegHeader {
  width: number;
  height: number;
  components: number;
  progressive: boolean;
  orientation: Orientation;
  colorSpace: string;
  supported: boolean;
  unsupportedReason?: string;
}

export type JpegScale = 1 | 2 | 4 | 8;

export interface JpegKernel {
  readJpegHeader(bytes: Uint8Array): JpegHeader;
  estimateJpegDecodeBytes(header: JpegHeader, scale: JpegScale): number;
  decodeJpeg(module: WebAssembly.Module, bytes: Uint8Array, scale: JpegScale, options?: { maxPixels?: number }): Raster | Promise<Raster>;
}

export interface ResizeKernel {
  resizeOriented(module: WebAssembly.Module, src: Raster, orientation: Orientation, width: number, height: number, options?: { crop?: Rect }): Raster | Promise<Raster>;
  estimateResizeBytes?(...args: never[]): number;
}

export interface Kernels {
  jpeg?: JpegKernel;
  resize?: ResizeKernel;
}

export const kernels: Kernels = {};
