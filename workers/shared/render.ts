import type { PhaseTimings } from "./log.ts";
import type { ImageFormat } from "../../wasm/src/probe.ts";
import type { Orientation } from "../../wasm/src/raster.ts";
import type { OutputFormat, Transform } from "./transform.ts";

/** What the gateway already knows about an original, passed along so a render does not read or probe it again. */
export interface RenderSource {
  imageId: string;
  life: string;
  storageId: string;
  format: ImageFormat;
  width: number;
  height: number;
  orientation: Orientation;
  hasAlpha: boolean;
}

/** One output to produce: a transform in a format, stored under the transform's fingerprint. */
export interface OutputRequest {
  transform: Transform;
  format: OutputFormat;
  fingerprint: string;
  /** The named variant asked for, or null for flexible options (stored under an expiry). */
  variant: string | null;
}

/** Whether any request draws layers (such renders stay in the processor's isolate: the render process takes no layers). */
export const drawsLayers = (requests: OutputRequest[]): boolean => requests.some((r) => !!r.transform.draw?.length);

/** Seconds a render refused for want of capacity (the processor's render slot, an image's render queue) should wait. */
export const RENDER_RETRY_AFTER_SECONDS = 2;

/** Asks for one output on demand: through the image's coordinator, which commits it, to the processor's RenderService. */
export interface RenderRequest extends OutputRequest {
  source: RenderSource;
  /** The delivery's request id, for the render's log line (workers/shared/log.ts). */
  requestId?: string;
}

/**
 * Outputs of one original that the coordinator sends the processor in one call: the original is read once and
 * decoded once for all of them (the engine's cascade). Each output keeps its delivery's request id for the log.
 */
export interface RenderBatch {
  source: RenderSource;
  outputs: (OutputRequest & { requestId?: string })[];
}

/** Why an output could not be rendered, as data (RPC carries no error classes). */
export interface RenderError {
  status: number;
  code: number;
  message: string;
  retryAfter?: number;
}

/** The processor's answer for one output of a batch, in the batch's order. */
export type RenderResult = RenderedRendition | { error: RenderError };

/** What the engine tells about one render, for its log line and data point. */
export interface RenderFacts {
  decoder: string;
  /** JPEG DCT decode scale denominator (1 = full size). */
  scale: number;
  /** The engine's measured peak (input, live rasters, codec memory), in MiB. */
  peakMb: number;
  /** Engine time by phase; 0 where the clock does not advance during compute (deployed Workers). */
  decodeMs: number;
  resizeMs: number;
  encodeMs: number;
}

/** Rendered bytes, not stored yet: the coordinator stores them only while the image's life is still current. */
export interface RenderedRendition {
  bytes: Uint8Array;
  contentType: string;
  width: number;
  height: number;
  /** An on-demand render's phases in the processor (reading the original, the engine), for delivery's Server-Timing. */
  timings?: PhaseTimings;
}

/** An on-demand render's result. Errors travel as data; `stale` says the request named a life that is over. */
export type RenderResponse =
  | ({ ok: true; etag: string } & RenderedRendition)
  | ({ ok: false; stale?: boolean } & RenderError);
