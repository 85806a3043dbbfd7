/** What every input format module provides; the FORMATS table (index.ts) holds one of each. */
import type * as Codecs from "../codecs/instances.ts";
import type { EngineModules } from "../modules.ts";
import type { Orientation, Raster } from "../raster.ts";
import type { JpegScale } from "../kernels.ts";
import type { RenderTarget, SourceInfo } from "../targets.ts";
import type { PlanInput } from "../plan.ts";
import type { ImageFormat } from "./index.ts";
import type { CmykConversion } from "../icc/cmyk.ts";

/** What an image's header says, read without decoding any pixel data. */
export interface ImageHeader {
  format: ImageFormat;
  /** Dimensions as stored (before EXIF orientation is applied). */
  width: number;
  height: number;
  orientation: Orientation;
  hasAlpha: boolean;
  /** JPEG: progressive scan; PNG: Adam7 interlaced. */
  progressive: boolean;
  /** GIF/WebP/AVIF sequences have more than one frame; we render the first. */
  animated: boolean;
  /**
   * The bytes probed ended before it could tell whether a second frame follows (a GIF's frames are found only by
   * walking them, and a direct upload is probed from its first bytes): `animated` false then means "unknown".
   */
  animationUnknown?: true;
}

export interface ImageFormatModule {
  /** How messages name the format: "JPEG", "WebP". */
  label: string;
  /** Media type of originals in this format (and of outputs, for the formats we also encode). */
  contentType: string;
  /** True when the bytes start with this format's signature. */
  sniff(bytes: Uint8Array): boolean;
  /** The header, without decoding: throws CodecError (`corrupt`, `unsupported`, or `limit` for a bomb). */
  probe(bytes: Uint8Array): ImageHeader;
  /**
   * The engine's one reading of the stream's structure, shared by the planner, the EXIF carried into outputs
   * and the decoder. Throws CodecError for what must be refused before planning (e.g. a truncated JPEG).
   */
  read(bytes: Uint8Array, source: SourceInfo, modules: EngineModules): SourceReading;
  /**
   * The decoders `read` would offer a `byteLength`-byte file, from its header alone (its first bytes), for planning an
   * upload before it is accepted (admission.ts): only their memory models and scales are used, never `decode`.
   * Assumes the engine has our kernels, as every deployed Worker does.
   */
  planningDecoders(header: Uint8Array, source: SourceInfo, byteLength: number): SourceDecoder[];
  /**
   * Where the engine should write a `byteLength`-byte file it reads from a stream, when a decoder of this
   * format reads it in place (our JPEG kernel: its own memory); `read` is then given that view. Undefined:
   * an ordinary buffer.
   */
  inputMemory?(byteLength: number, modules: EngineModules): Uint8Array | undefined;
  /**
   * A vector format: the raster to render these targets from (its size, and the targets' crops mapped into it),
   * chosen for the targets rather than decoded at a stored size. The planner and engine then treat it as a
   * raster of that size, and `read` is given that `source`.
   */
  rasterFor?(source: SourceInfo, targets: RenderTarget[], maxPixels: number): { source: SourceInfo; targets: RenderTarget[] };
}

export interface SourceReading {
  /**
   * Decoders that can take this stream, preferred (fastest) first. The engine uses the first whose plan fits
   * the budget; when it reports `unsupported` mid-stream, the next one whose plan fits.
   */
  decoders: SourceDecoder[];
  /** The source's EXIF as TIFF bytes (without the "Exif\0\0" prefix), undefined when it has none. */
  exif(): Uint8Array | undefined;
  /** The source's embedded ICC profile (JPEG APP2, PNG iCCP, WebP ICCP, AVIF colr), undefined when it has none. */
  iccProfile?(): Uint8Array | undefined;
  /** The pixels are stored as CMYK (a four-component JPEG): only a CMYK profile describes them. */
  cmykPixels?: boolean;
}

/** One decoder for one stream, with its memory model (planned before it runs, see plan.ts). */
export interface SourceDecoder {
  /** How plans, reports and messages name it: "jpeg-kernel", "mozjpeg", "png", ... */
  name: string;
  /** Shrink-on-load: the scale denominator to decode at for these targets (1 when it has none). */
  chooseScale?(plan: PlanInput): JpegScale;
  /**
   * Estimated bytes of a decode to `width × height` at 1/`scale`: the decoded raster as the engine then holds
   * it, and the decode phase's peak (the caller's copy of the input, `inputBytes`, decoder linear memory and
   * raster together; the planner takes `inputBytes` off again for a decoder that `holdsInput`).
   */
  memory(m: { inputBytes: number; width: number; height: number; scale: JpegScale }): { rasterBytes: number; decodeBytes: number };
  /**
   * The input lives in this decoder's memory (the engine streamed it there, see `inputMemory`): its decode and
   * its raster account for it, and nothing outside holds it.
   */
  holdsInput?: boolean;
  decode(scale: JpegScale, context: DecodeContext): Promise<DecodeResult>;
}

export interface DecodeContext {
  modules: EngineModules;
  /**
   * The codec instantiators (codecs/instances.ts), handed in by the engine rather than imported here: the
   * upload edge imports this table for its probe, and must not bundle the codecs' emscripten glue (~220 KB).
   */
  codecs: typeof Codecs;
  /** Keep an alpha channel when the image has one (the probe said so); else RGB. */
  keepAlpha: boolean;
  maxPixels: number;
  /** The source's CMYK profile conversion (icc/cmyk.ts), for a decoder that can hand back CMYK ink. */
  cmyk?: CmykConversion;
}

export interface DecodeResult {
  raster: Raster;
  /** Linear memory the decoder instance had grown to, for the peak-memory record. */
  decoderHeapBytes: number;
}
