/**
 * The seam to our own AssemblyScript kernels: the JPEG decoder with DCT-domain scaling (jpeg.ts →
 * wasm/build/jpeg.wasm) and the SIMD box + Lanczos3 resizer (resize.ts → wasm/build/resize.wasm).
 * The engine uses a kernel only when the caller also provides its compiled module (`modules.jpeg`,
 * `modules.resize`); without them it runs on mozjpeg and the TypeScript resampler in pixels.ts.
 */
import {
  checkedHeader, decodeJpeg, decodeLoadedJpeg, estimateJpegDecodeBytes, jpegHeaderOf, allocateJpeg, jpegInputView, loadJpeg, loadedJpegBytes, loadedJpegHeapBytes, readJpegHeader,
  type JpegHeader, type JpegScale, type LoadedJpeg,
} from "./jpeg.ts";
import { estimateResizeBytes, resizeOriented } from "./resize.ts";

export type { JpegHeader, JpegScale, LoadedJpeg };

export interface Kernels {
  jpeg?: {
    readJpegHeader: typeof readJpegHeader;
    jpegHeaderOf: typeof jpegHeaderOf;
    estimateJpegDecodeBytes: typeof estimateJpegDecodeBytes;
    decodeJpeg: typeof decodeJpeg;
    checkedHeader: typeof checkedHeader;
    loadJpeg: typeof loadJpeg;
    allocateJpeg: typeof allocateJpeg;
    jpegInputView: typeof jpegInputView;
    loadedJpegBytes: typeof loadedJpegBytes;
    loadedJpegHeapBytes: typeof loadedJpegHeapBytes;
    decodeLoadedJpeg: typeof decodeLoadedJpeg;
  };
  resize?: {
    resizeOriented: typeof resizeOriented;
    estimateResizeBytes: typeof estimateResizeBytes;
  };
}

export const kernels: Kernels = {
  jpeg: { readJpegHeader, jpegHeaderOf, estimateJpegDecodeBytes, decodeJpeg, checkedHeader, allocateJpeg, jpegInputView, loadJpeg, loadedJpegBytes, loadedJpegHeapBytes, decodeLoadedJpeg },
  resize: { resizeOriented, estimateResizeBytes },
};
