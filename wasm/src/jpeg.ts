// JPEG decoding with shrink-on-load: baseline and progressive Huffman JPEGs decode straight to RGB at 1/1,
// 1/2, 1/4 or 1/8 size, scaling in the DCT domain (see wasm/assembly/jpeg/). Anything the kernel does not
// handle (arithmetic, lossless, hierarchical, 12-bit, DNL) is reported as CodecError("unsupported") so the
// engine can fall back to mozjpeg.
//
// Policies:
// - Scaling: 1/8 uses each block's DC only; 1/4 and 1/2 run 2×2 and 4×4 IDCTs on the top-left coefficients;
//   1/1 is a float AAN IDCT. Progressive images keep only those coefficients (plus a 1-bit-per-coefficient
//   "nonzero" mask at 1/2 and 1/4, which refinement scans need), and at 1/8 their AC scans are skipped
//   unread. Baseline images with all components in one scan stream MCU rows straight to RGB.
// - Chroma: subsampling by 2 is upsampled with libjpeg's triangle ("fancy") filter at the output scale,
//   other factors (3, 4) by replication.
// - CMYK/YCCK: converted naively (R = (1−C)(1−K) etc.), or with `cmykInk` handed back as CMYK ink amounts
//   (4 bytes a pixel) for a conversion through the file's CMYK profile (icc/cmyk.ts); Adobe APP14 files are
//   read as inverted, like libjpeg/libvips.
// - Truncated data: a scan decodes what is there; once it has used up its data (and no RSTn marker lets it
//   resynchronise) the rest of it is not decoded, as libjpeg does: blocks no scan reached are mid-grey, later
//   scans leave earlier ones' coefficients. So a small file claiming a huge frame costs work in proportion to
//   its data plus the output, not the frame's block count times its scans. Truncation before the first scan
//   is "corrupt".
// - Progressive work: EOB runs let a few bytes cover the whole frame, so the scans together may visit the
//   frame's blocks at most 32 times over (real files: about 5); beyond that it is CodecError("limit").
// - EXIF orientation is reported in the header, never applied.
import { CodecError } from "./errors.ts";
import type { CodecErrorKind } from "./errors.ts";
import type { Orientation, Raster } from "./raster.ts";
import { exifOrientation } from "./exif.ts";
import { readJpegMarkers, type JpegMarkers } from "./formats/jpeg-markers.ts";

export type JpegScale = 1 | 2 | 4 | 8;

export interface JpegComponentInfo {
  id: number;
  /** Horizontal and vertical sampling factors (1..4). */
  h: number;
  v: number;
}

export interface JpegHeader {
  width: number;
  height: number;
  components: 1 | 3 | 4;
  progressive: boolean;
  orientation: Orientation;
  colorSpace: "gray" | "ycbcr" | "rgb" | "cmyk" | "ycck";
  supported: boolean;
  unsupportedReason?: string;
  /** Size of the encoded file, for memory planning. */
  byteLength: number;
  /** Sampling factors per component in frame order. */
  sampling: JpegComponentInfo[];
  /** An Adobe APP14 segment was present (CMYK is then stored inverted). */
  adobe: boolean;
  /** Sequential with every component in the first scan: decodes MCU row by MCU row, no coefficient store. */
  streamable: boolean;
}

/** Pixel limit used when the caller does not give one (Cloudflare Images' 100 megapixel input limit). */
export const DEFAULT_MAX_PIXELS = 100_000_000;

const SCALES: ReadonlySet<number> = new Set([1, 2, 4, 8]);

/** Reads the frame header, colour interpretation and EXIF orientation without decoding (pure TS). */
export function readJpegHeader(bytes: Uint8Array): JpegHeader {
  return jpegHeaderOf(readJpegMarkers(bytes, { toEnd: false }), bytes.length);
}

/** Our decoder's reading of a marker walk (formats/jpeg-markers.ts): what it can decode, and how. */
export function jpegHeaderOf(markers: JpegMarkers, byteLength: number): JpegHeader {
  if (!markers.soi) throw new CodecError("corrupt", "not a JPEG: missing SOI marker");
  if (markers.headerEnd === "bad-length") throw new CodecError("corrupt", "corrupt JPEG: marker segment length below 2");
  if (markers.frameCount > 1) throw new CodecError("corrupt", "corrupt JPEG: more than one frame header");
  const sof = markers.frame;
  if (!sof) throw new CodecError("corrupt", markers.frameCount ? "corrupt JPEG: truncated frame header" : "corrupt JPEG: no frame header (missing SOF)");
  if (sof.truncated) throw new CodecError("corrupt", "corrupt JPEG: truncated frame header");
  const nc = sof.components.length;
  const colorSpace = interpretColor(sof.components, markers.jfif, markers.adobeTransform);
  let reason: string | undefined;
  if (sof.lossless) reason = "lossless coding";
  else if (sof.arithmetic) reason = "arithmetic coding";
  else if (sof.marker === 0xc5 || sof.marker === 0xc6) reason = "hierarchical coding";
  else if (sof.precision !== 8) reason = `${sof.precision}-bit precision`;
  else if (nc !== 1 && nc !== 3 && nc !== 4) reason = `${nc} components`;
  else if (sof.height === 0) reason = "height defined by DNL marker";
  else if (!samplingDivides(sof.components)) reason = "sampling factors that do not divide the maximum";
  if (sof.width === 0) throw new CodecError("corrupt", "corrupt JPEG: image width is 0");
  for (const c of sof.components) {
    if (c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4) throw new CodecError("corrupt", "corrupt JPEG: sampling factor outside 1..4");
  }
  return {
    width: sof.width,
    height: sof.height,
    components: (nc === 1 || nc === 3 || nc === 4 ? nc : 3) as 1 | 3 | 4,
    progressive: sof.progressive,
    orientation: exifOrientation(markers.exif),
    colorSpace,
    supported: reason === undefined,
    ...(reason === undefined ? {} : { unsupportedReason: `unsupported JPEG: ${reason}` }),
    byteLength,
    sampling: nc === 1 ? [{ ...sof.components[0], h: 1, v: 1 }] : sof.components,
    adobe: markers.adobeTransform >= 0,
    streamable: (sof.marker === 0xc0 || sof.marker === 0xc1) && markers.firstScanComponents === nc,
  };
}

function samplingDivides(comps: JpegComponentInfo[]): boolean {
  if (comps.length === 1) return true;
  const hmax = Math.max(...comps.map((c) => c.h));
  const vmax = Math.max(...comps.map((c) => c.v));
  return comps.every((c) => c.h >= 1 && c.v >= 1 && hmax % c.h === 0 && vmax % c.v === 0);
}

// libjpeg's rules (jdapimin.c): JFIF means YCbCr; an Adobe transform flag decides; else component ids.
function interpretColor(comps: JpegComponentInfo[], jfif: boolean, adobeTransform: number): JpegHeader["colorSpace"] {
  if (comps.length === 1) return "gray";
  if (comps.length === 4) return adobeTransform === 2 ? "ycck" : "cmyk";
  if (jfif) return "ycbcr";
  if (adobeTransform === 0) return "rgb";
  if (adobeTransform >= 1) return "ycbcr";
  const ids = comps.map((c) => c.id);
  if (ids[0] === 0x52 && ids[1] === 0x47 && ids[2] === 0x42) return "rgb";
  return "ycbcr";
}

// The kernel's static data plus its Huffman tables (~70 KiB, allocated per instance), rounded up; the
// memory-planning test checks the estimate against real instances.
const KERNEL_STATIC_BYTES = 128 * 1024;
const PAGE = 65536;

/** Bytes a pixel of the decoded raster: 4 for a four-component image decoded to CMYK ink, else 3 (RGB). */
export function jpegOutputChannels(header: JpegHeader, cmykInk: boolean): 3 | 4 {
  return cmykInk && header.components === 4 ? 4 : 3;
}

/** Peak wasm memory a decode at this scale will use (input copy included), in bytes, page-rounded. */
export function estimateJpegDecodeBytes(header: JpegHeader, scale: JpegScale, cmykInk = false): number {
  const k = 8 / scale;
  const hmax = Math.max(...header.sampling.map((c) => c.h));
  const vmax = Math.max(...header.sampling.map((c) => c.v));
  const mcusX = Math.ceil(header.width / (8 * hmax));
  const mcusY = Math.ceil(header.height / (8 * vmax));
  const outBytes = Math.ceil(header.width / scale) * Math.ceil(header.height / scale) * jpegOutputChannels(header, cmykInk);
  const maskBytes = header.progressive && (k === 2 || k === 4) ? 8 : 0;
  let buffers = outBytes + 16;
  for (const c of header.sampling) {
    buffers += mcusX * c.h * k * c.v * k + mcusX * hmax * k + 64;
    buffers += 160 + mcusX * c.h * k * 3 + 64; // chroma upsampling context rows and scratch
    if (!header.streamable) buffers += mcusX * c.h * mcusY * c.v * (k * k * 2 + maskBytes);
  }
  // Each exact reservation keeps one page of slack for small objects.
  const total = KERNEL_STATIC_BYTES + (header.byteLength + 64 + PAGE) + (buffers + 64 + PAGE);
  return Math.ceil(total / PAGE) * PAGE;
}

interface JpegKernel {
  memory: WebAssembly.Memory;
  alloc(n: number): number;
  decode(ptr: number, len: number, scale: number, colorSpace: number, maxPixels: number, channels: number): number;
  errorMessage(): number;
  outputPtr(): number;
  outputWidth(): number;
  outputHeight(): number;
}

const KINDS: Record<number, CodecErrorKind> = { 1: "unsupported", 2: "corrupt", 3: "limit" };

// Colour codes of wasm/assembly/jpeg/color.ts.
function colorCode(header: JpegHeader): number {
  switch (header.colorSpace) {
    case "gray": return 0;
    case "ycbcr": return 1;
    case "rgb": return 2;
    case "cmyk": return header.adobe ? 4 : 3;
    case "ycck": return 5;
  }
}

export interface JpegDecodeOptions {
  /** Refuse images with more pixels than this (CodecError "limit"); default DEFAULT_MAX_PIXELS. */
  maxPixels?: number;
  /** Refuse decodes whose planned wasm memory (estimateJpegDecodeBytes) exceeds this many bytes. */
  maxMemoryBytes?: number;
  /** The stream's header when the caller has read it already (the engine's one marker walk). */
  header?: JpegHeader;
  /**
   * A CMYK/YCCK image decodes to CMYK ink amounts (C, M, Y, K; 0 = no ink, Adobe's inversion undone; 4 bytes a
   * pixel, `channels` 4) instead of naive RGB: for a conversion through its embedded profile. Others ignore it.
   */
  cmykInk?: boolean;
}

/**
 * Decodes a JPEG to RGB (CMYK ink with `cmykInk`) at 1/`scale` size: ceil(width/scale) × ceil(height/scale), not oriented.
 * Uses a fresh instance of `module` (the compiled jpeg.wasm); a large returned raster views that
 * instance's memory (so it lives as long as the raster), a small one is a copy.
 * Truncated scan data decodes what is present; blocks without data are mid-grey (as libjpeg).
 */
export function decodeJpeg(module: WebAssembly.Module, bytes: Uint8Array, scale: JpegScale, options: JpegDecodeOptions = {}): Raster {
  const header = checkedHeader(bytes, scale, options);
  return decodeLoadedJpeg(loadJpeg(module, bytes), scale, { ...options, header }).raster;
}

/**
 * A JPEG in a fresh decoder instance's memory, ready to decode. Written there straight from a stream, the file
 * is held once.
 */
export interface LoadedJpeg {
  kernel: JpegKernel;
  ptr: number;
  length: number;
}

/** Copies `bytes` into a fresh instance of `module`. */
export function loadJpeg(module: WebAssembly.Module, bytes: Uint8Array): LoadedJpeg {
  const loaded = allocateJpeg(module, bytes.length);
  jpegInputView(loaded).set(bytes);
  return loaded;
}

/**
 * A fresh instance of `module` with room for a `length`-byte file, to be written through jpegInputView before
 * the decode (so a file read from a stream goes straight into the decoder's memory).
 */
export function allocateJpeg(module: WebAssembly.Module, length: number): LoadedJpeg {
  const instance = new WebAssembly.Instance(module, {
    env: {
      abort: () => {
        throw new CodecError("limit", "JPEG decoder ran out of memory");
      },
    },
  });
  const kernel = instance.exports as unknown as JpegKernel;
  const ptr = kernel.alloc(length);
  if (ptr === 0) throw new CodecError("limit", "out of memory for the JPEG input");
  return { kernel, ptr, length };
}

/** Where the file lives in the instance's memory: valid until the decode grows that memory. */
export function jpegInputView(loaded: LoadedJpeg): Uint8Array {
  return new Uint8Array(loaded.kernel.memory.buffer, loaded.ptr, loaded.length);
}

/** The loaded file's bytes, read back from the instance's memory (a copy: that memory may grow and detach views). */
export function loadedJpegBytes(loaded: LoadedJpeg): Uint8Array {
  return new Uint8Array(loaded.kernel.memory.buffer, loaded.ptr, loaded.length).slice();
}

/** Linear memory of the loaded instance now. */
export function loadedJpegHeapBytes(loaded: LoadedJpeg): number {
  return loaded.kernel.memory.buffer.byteLength;
}

/**
 * Decodes a loaded JPEG (see decodeJpeg for the output). `heapBytes` is the instance's linear memory at the
 * end, input included, whether the raster views it or was copied out of it.
 */
export function decodeLoadedJpeg(loaded: LoadedJpeg, scale: JpegScale, options: JpegDecodeOptions & { header: JpegHeader }): { raster: Raster; heapBytes: number } {
  const { header } = options;
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const k = loaded.kernel;
  try {
    const channels = jpegOutputChannels(header, options.cmykInk ?? false);
    const rc = k.decode(loaded.ptr, loaded.length, scale, colorCode(header), maxPixels, channels);
    if (rc !== 0) throw new CodecError(KINDS[rc] ?? "corrupt", readString(k.memory, k.errorMessage()));
    const width = k.outputWidth();
    const height = k.outputHeight();
    // A large raster is returned as a view (the instance is done, its memory can no longer grow or
    // detach): copying 36 MB would briefly need it twice. A small one (shrink-on-load) is copied so the
    // instance's memory, mostly the input and coefficients, is not kept alive by the raster.
    const heapBytes = k.memory.buffer.byteLength;
    const view = new Uint8Array(k.memory.buffer, k.outputPtr(), width * height * channels);
    const data = view.length * 4 < heapBytes ? view.slice() : view;
    return { raster: { data, width, height, channels }, heapBytes };
  } catch (e) {
    if (e instanceof CodecError) throw e;
    if (e instanceof WebAssembly.RuntimeError) {
      throw new CodecError("corrupt", `JPEG decoder trapped: ${e.message}`);
    }
    throw e;
  }
}

/** The header, checked against the scale, the pixel limit and the memory cap before any instance is made. */
export function checkedHeader(bytes: Uint8Array, scale: JpegScale, options: JpegDecodeOptions): JpegHeader {
  if (!SCALES.has(scale)) throw new CodecError("unsupported", `JPEG scale must be 1, 2, 4 or 8, got ${String(scale)}`);
  const header = options.header ?? readJpegHeader(bytes);
  if (!header.supported) throw new CodecError("unsupported", header.unsupportedReason ?? "unsupported JPEG");
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (header.width * header.height > maxPixels) {
    throw new CodecError("limit", `image of ${header.width}x${header.height} exceeds the limit of ${maxPixels} pixels`);
  }
  if (options.maxMemoryBytes !== undefined) {
    const need = estimateJpegDecodeBytes(header, scale, options.cmykInk);
    if (need > options.maxMemoryBytes) {
      throw new CodecError("limit", `decoding ${header.width}x${header.height} at 1/${scale} needs ${need} bytes, above the ${options.maxMemoryBytes} byte budget`);
    }
  }
  return header;
}

/** Reads an AssemblyScript string (UTF-16LE, byte length in the object header). */
function readString(memory: WebAssembly.Memory, ptr: number): string {
  if (ptr === 0) return "JPEG decode failed";
  const bytes = new DataView(memory.buffer).getUint32(ptr - 4, true);
  return String.fromCharCode(...new Uint16Array(memory.buffer, ptr, bytes >>> 1));
}
