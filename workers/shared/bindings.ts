// The Workers reach each other through these interfaces only: neither Worker's code imports the other's classes.
import type { ImageFormat } from "../../wasm/src/probe.ts";
import type { ImageStatus, StatusEvent } from "./messages.ts";
import type { RenderBatch, RenderRequest, RenderResponse, RenderResult } from "./render.ts";

/** What the coordinator knows about one image. Persisted under a single storage key. */
export interface CoordinatorState {
  imageId: string;
  status: ImageStatus | "none";
  /** The current upload's life (images.life); renditions of any other life are never stored or served. */
  life: string;
  /** Increases every time a job is (re-)enqueued. */
  generation: number;
  /** Processing attempts started (claims), across all generations. */
  attempts: number;
  /** Times a queued job nobody claimed was enqueued again (they do not count as attempts). */
  requeues: number;
  leaseUntil?: number;
  /** When a queued job that nobody claimed is enqueued again. */
  queuedUntil?: number;
  error?: string;
  lastError?: string;
  originalKey?: string;
  /**
   * An upload in flight: set before the original is written, cleared when it is accepted. If the Worker dies
   * in between, the alarm at `until` finishes the upload (its D1 record exists) or removes what it wrote.
   */
  reservation?: { life: string; originalKey: string; until: number };
  upload?: { tokenHash: string; expiresAt: number; used: boolean; usedAt?: number; limits?: UploadLimits; incoming?: IncomingObject };
  /** The terminal status's event has not been sent yet (written with the status; the alarm retries the send). */
  eventPending?: boolean;
  /**
   * The request that started this life (the upload, or the direct-upload URL's creation): jobs the coordinator
   * enqueues carry it, and transitions without a request of their own (alarms) log it, so one upload can be
   * followed end to end.
   */
  requestId?: string;
  updatedAt: string;
}

export type ClaimResult = { action: "process"; attempt: number; life: string } | { action: "skip"; reason: string };
/** Limits a direct upload's URL carries (our extension); they only ever tighten the account's. */
export interface UploadLimits {
  maxBytes?: number;
  maxMegapixels?: number;
  formats?: ImageFormat[];
}

/** A direct-to-R2 object a processor is checking and moving to originals/ (held until `leaseUntil`). */
export interface IncomingObject {
  etag: string;
  size: number;
  leaseUntil: number;
}

/**
 * The coordinator's answer to an R2 notification of an `incoming/` object: check and move it (with the limits it
 * must meet: the account's, as the gateway is configured, and the upload URL's), wait (another processor holds
 * it), or skip it (the image is not a draft waiting for its file: a duplicate, late or second `PUT`).
 */
export type IncomingClaim =
  | { action: "ingest"; originalKey: string; limits: UploadLimits; account: { maxBytes: number; maxPixels: number; maxSide: number } }
  | { action: "busy" }
  | { action: "skip"; reason: string };

export type UploadCheck = { ok: true; limits: UploadLimits } | { ok: false; reason: "unknown" | "used" | "expired" };

/** The ImageCoordinator Durable Object's RPC surface (implemented in workers/gateway/coordinator.ts). */
export interface CoordinatorApi extends Rpc.DurableObjectBranded {
  snapshot(): CoordinatorState;
  // `requestId` (trailing, optional): the caller's request id, for the transition's log line.
  reserveUpload(imageId: string, life: string, originalKey: string, requestId?: string): Promise<boolean>;
  createDraft(imageId: string, life: string, originalKey: string, tokenHash: string, expiresAt: number, limits?: UploadLimits, requestId?: string): Promise<boolean>;
  checkUploadToken(tokenHash: string): Promise<UploadCheck>;
  holdsUploadToken(tokenHash: string): Promise<boolean>;
  beginDirectUpload(tokenHash: string): Promise<UploadCheck>;
  abortDirectUpload(): Promise<void>;
  beginIncoming(life: string, object: { size: number; etag: string }): Promise<IncomingClaim>;
  releaseIncoming(life: string, etag: string): Promise<void>;
  failIncoming(life: string, reason: string): Promise<void>;
  accept(imageId: string, life: string, requestId?: string): Promise<CoordinatorState>;
  abandonUpload(life: string): Promise<void>;
  render(request: RenderRequest): Promise<RenderResponse>;
  claim(generation: number, requestId?: string): Promise<ClaimResult>;
  complete(life: string, requestId?: string): Promise<ImageStatus | "none">;
  fail(reason: string, requestId?: string): Promise<void>;
  release(error: string, requestId?: string): Promise<void>;
  markDeleted(requestId?: string): Promise<void>;
  fetch(request: Request): Promise<Response>;
}

/** The processor's RenderService entrypoint (service binding RPC). */
export interface RendererApi extends Rpc.WorkerEntrypointBranded {
  /** One result per output, in the batch's order. */
  render(batch: RenderBatch): Promise<RenderResult[]>;
}

export type CoordinatorNamespace = DurableObjectNamespace<CoordinatorApi>;

export type { StatusEvent };
