/**
 * The seam to our own AssemblyScript kernels: the JPEG decoder with DCT-domain scaling (jpeg.ts →
 * wasm/build/jpeg.wasm) and the SIMD box + Lanczos3 resizer (resize.ts → wasm/build/resize.wasm).
 * The engine uses a kernel only when the caller also provides its compiled module (`modules.jpeg`,
 * `modules.resize`); without them it runs on mozjpeg and the TypeScript resampler in pixels.ts.
 */
import { decodeJpeg, estimateJpegDecodeBytes, jpegHeaderOf, readJpegHeader, type JpegHeader, type JpegScale } from "./jpeg.ts";
import { estimateResizeBytes, resizeOriented } from "./resize.ts";

export type { JpegHeader, JpegScale };

export interface Kernels {
  jpeg?: {
    readJpegHeader: typeof readJpegHeader;
    jpegHeaderOf: typeof jpegHeaderOf;
    estimateJpegDecodeBytes: typeof estimateJpegDecodeBytes;
    decodeJpeg: typeof decodeJpeg;
  };
  resize?: {
    resizeOriented: typeof resizeOriented;
    estimateResizeBytes: typeof estimateResizeBytes;
  };
}

export const kernels: Kernels = {
  jpeg: { readJpegHeader, jpegHeaderOf, estimateJpegDecodeBytes, decodeJpeg },
  resize: { resizeOriented, estimateResizeBytes },
};
