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
// - CMYK/YCCK: converted naively (R = (1−C)(1−K) etc.); Adobe APP14 files are read as inverted, like
//   libjpeg/libvips. No ICC transform.
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
  const n = bytes.length;
  if (n < 4 || bytes[0] !== 0xff || bytes[1] !== 0xd8) throw new CodecError("corrupt", "not a JPEG: missing SOI marker");
  let pos = 2;
  let orientation: Orientation = 1;
  let jfif = false;
  let adobe = false;
  let adobeTransform = -1;
  let sof: { marker: number; precision: number; width: number; height: number; comps: JpegComponentInfo[] } | null = null;
  let firstScanComponents = 0;
  while (pos + 1 < n) {
    if (bytes[pos] !== 0xff) { pos++; continue; }
    const m = bytes[pos + 1];
    if (m === 0xff || m === 0x00) { pos++; continue; }
    pos += 2;
    if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) continue;
    if (m === 0xd9) break;
    if (pos + 2 > n) break;
    const len = (bytes[pos] << 8) | bytes[pos + 1];
    if (len < 2) throw new CodecError("corrupt", "corrupt JPEG: marker segment length below 2");
    const seg = pos + 2;
    const segEnd = Math.min(pos + len, n);
    if (m === 0xe0 && segEnd - seg >= 5 && ascii(bytes, seg, 5) === "JFIF\0") jfif = true;
    else if (m === 0xe1 && segEnd - seg >= 6 && ascii(bytes, seg, 6) === "Exif\0\0") {
      orientation = readExifOrientation(bytes, seg + 6, segEnd) ?? orientation;
    } else if (m === 0xee && segEnd - seg >= 12 && ascii(bytes, seg, 5) === "Adobe") {
      adobe = true;
      adobeTransform = bytes[seg + 11];
    } else if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      if (sof) throw new CodecError("corrupt", "corrupt JPEG: more than one frame header");
      if (segEnd - seg < 6) throw new CodecError("corrupt", "corrupt JPEG: truncated frame header");
      const nc = bytes[seg + 5];
      if (segEnd - seg < 6 + 3 * nc) throw new CodecError("corrupt", "corrupt JPEG: truncated frame header");
      const comps: JpegComponentInfo[] = [];
      for (let i = 0; i < nc; i++) {
        const q = seg + 6 + 3 * i;
        comps.push({ id: bytes[q], h: bytes[q + 1] >> 4, v: bytes[q + 1] & 15 });
      }
      sof = {
        marker: m,
        precision: bytes[seg],
        height: (bytes[seg + 1] << 8) | bytes[seg + 2],
        width: (bytes[seg + 3] << 8) | bytes[seg + 4],
        comps,
      };
    } else if (m === 0xda) {
      firstScanComponents = seg < n ? bytes[seg] : 0;
      break;
    }
    pos += len;
  }
  if (!sof) throw new CodecError("corrupt", "corrupt JPEG: no frame header (missing SOF)");
  const nc = sof.comps.length;
  const colorSpace = interpretColor(sof.comps, jfif, adobeTransform);
  let reason: string | undefined;
  if (sof.marker === 0xc3 || sof.marker === 0xc7 || sof.marker === 0xcb || sof.marker === 0xcf) reason = "lossless coding";
  else if (sof.marker >= 0xc9) reason = "arithmetic coding";
  else if (sof.marker === 0xc5 || sof.marker === 0xc6) reason = "hierarchical coding";
  else if (sof.precision !== 8) reason = `${sof.precision}-bit precision`;
  else if (nc !== 1 && nc !== 3 && nc !== 4) reason = `${nc} components`;
  else if (sof.height === 0) reason = "height defined by DNL marker";
  else if (!samplingDivides(sof.comps)) reason = "sampling factors that do not divide the maximum";
  if (sof.width === 0) throw new CodecError("corrupt", "corrupt JPEG: image width is 0");
  for (const c of sof.comps) {
    if (c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4) throw new CodecError("corrupt", "corrupt JPEG: sampling factor outside 1..4");
  }
  return {
    width: sof.width,
    height: sof.height,
    components: (nc === 1 || nc === 3 || nc === 4 ? nc : 3) as 1 | 3 | 4,
    progressive: sof.marker === 0xc2 || sof.marker === 0xc6 || sof.marker === 0xca || sof.marker === 0xce,
    orientation,
    colorSpace,
    supported: reason === undefined,
    ...(reason === undefined ? {} : { unsupportedReason: `unsupported JPEG: ${reason}` }),
    byteLength: n,
    sampling: nc === 1 ? [{ ...sof.comps[0], h: 1, v: 1 }] : sof.comps,
    adobe,
    streamable: (sof.marker === 0xc0 || sof.marker === 0xc1) && firstScanComponents === nc,
  };
}

function ascii(bytes: Uint8Array, at: number, len: number): string {
  return String.fromCharCode(...bytes.subarray(at, at + len));
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

/** EXIF IFD0 Orientation (tag 0x0112), or undefined when absent or malformed. */
function readExifOrientation(bytes: Uint8Array, tiff: number, end: number): Orientation | undefined {
  if (tiff + 8 > end) return undefined;
  const little = bytes[tiff] === 0x49 && bytes[tiff + 1] === 0x49;
  if (!little && !(bytes[tiff] === 0x4d && bytes[tiff + 1] === 0x4d)) return undefined;
  const u16 = (p: number) => (little ? bytes[p] | (bytes[p + 1] << 8) : (bytes[p] << 8) | bytes[p + 1]);
  const u32 = (p: number) => (little ? u16(p) + u16(p + 2) * 65536 : u16(p) * 65536 + u16(p + 2));
  const ifd = tiff + u32(tiff + 4);
  if (ifd + 2 > end) return undefined;
  const count = u16(ifd);
  for (let i = 0; i < count; i++) {
    const e = ifd + 2 + i * 12;
    if (e + 12 > end) return undefined;
    if (u16(e) === 0x0112) {
      const v = u16(e + 8);
      return v >= 1 && v <= 8 ? (v as Orientation) : undefined;
    }
  }
  return undefined;
}

// The kernel's static data plus its Huffman tables (~70 KiB, allocated per instance), rounded up; the
// memory-planning test checks the estimate against real instances.
const KERNEL_STATIC_BYTES = 128 * 1024;
const PAGE = 65536;

/** Peak wasm memory a decode at this scale will use (input copy included), in bytes, page-rounded. */
export function estimateJpegDecodeBytes(header: JpegHeader, scale: JpegScale): number {
  const k = 8 / scale;
  const hmax = Math.max(...header.sampling.map((c) => c.h));
  const vmax = Math.max(...header.sampling.map((c) => c.v));
  const mcusX = Math.ceil(header.width / (8 * hmax));
  const mcusY = Math.ceil(header.height / (8 * vmax));
  const outBytes = Math.ceil(header.width / scale) * Math.ceil(header.height / scale) * 3;
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
  decode(ptr: number, len: number, scale: number, colorSpace: number, maxPixels: number): number;
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
}

/**
 * Decodes a JPEG to RGB at 1/`scale` size: ceil(width/scale) × ceil(height/scale), not oriented.
 * Uses a fresh instance of `module` (the compiled jpeg.wasm); a large returned raster views that
 * instance's memory (so it lives as long as the raster), a small one is a copy.
 * Truncated scan data decodes what is present; blocks without data are mid-grey (as libjpeg).
 */
export function decodeJpeg(module: WebAssembly.Module, bytes: Uint8Array, scale: JpegScale, options: JpegDecodeOptions = {}): Raster {
  if (!SCALES.has(scale)) throw new CodecError("unsupported", `JPEG scale must be 1, 2, 4 or 8, got ${String(scale)}`);
  const header = readJpegHeader(bytes);
  if (!header.supported) throw new CodecError("unsupported", header.unsupportedReason ?? "unsupported JPEG");
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (header.width * header.height > maxPixels) {
    throw new CodecError("limit", `image of ${header.width}x${header.height} exceeds the limit of ${maxPixels} pixels`);
  }
  if (options.maxMemoryBytes !== undefined) {
    const need = estimateJpegDecodeBytes(header, scale);
    if (need > options.maxMemoryBytes) {
      throw new CodecError("limit", `decoding ${header.width}x${header.height} at 1/${scale} needs ${need} bytes, above the ${options.maxMemoryBytes} byte budget`);
    }
  }
  const instance = new WebAssembly.Instance(module, {
    env: {
      abort: () => {
        throw new CodecError("limit", "JPEG decoder ran out of memory");
      },
    },
  });
  const k = instance.exports as unknown as JpegKernel;
  try {
    const ptr = k.alloc(bytes.length);
    if (ptr === 0) throw new CodecError("limit", "out of memory for the JPEG input");
    new Uint8Array(k.memory.buffer, ptr, bytes.length).set(bytes);
    const rc = k.decode(ptr, bytes.length, scale, colorCode(header), maxPixels);
    if (rc !== 0) throw new CodecError(KINDS[rc] ?? "corrupt", readString(k.memory, k.errorMessage()));
    const width = k.outputWidth();
    const height = k.outputHeight();
    // A large raster is returned as a view (the instance is done, its memory can no longer grow or
    // detach): copying 36 MB would briefly need it twice. A small one (shrink-on-load) is copied so the
    // instance's memory, mostly the input and coefficients, is not kept alive by the raster.
    const view = new Uint8Array(k.memory.buffer, k.outputPtr(), width * height * 3);
    const data = view.length * 4 < k.memory.buffer.byteLength ? view.slice() : view;
    return { data, width, height, channels: 3 };
  } catch (e) {
    if (e instanceof CodecError) throw e;
    if (e instanceof WebAssembly.RuntimeError) {
      throw new CodecError("corrupt", `JPEG decoder trapped: ${e.message}`);
    }
    throw e;
  }
}

/** Reads an AssemblyScript string (UTF-16LE, byte length in the object header). */
function readString(memory: WebAssembly.Memory, ptr: number): string {
  if (ptr === 0) return "JPEG decode failed";
  const bytes = new DataView(memory.buffer).getUint32(ptr - 4, true);
  return String.fromCharCode(...new Uint16Array(memory.buffer, ptr, bytes >>> 1));
}
