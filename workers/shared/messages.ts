import { carriedRequestId } from "./log.ts";

/** Lifecycle of an image; the ImageCoordinator Durable Object owns transitions, D1 mirrors them for queries. */
export const IMAGE_STATUSES = ["draft", "queued", "processing", "ready", "failed", "deleted"] as const;
export type ImageStatus = (typeof IMAGE_STATUSES)[number];

/** The queue message that asks the processor to render an image's eager variants. Carries keys, never bytes. */
export interface ProcessJob {
  type: "process";
  imageId: string;
  /** The upload's life (images.life): renditions are stored under it. */
  life: string;
  originalKey: string;
  /** Bumped by the coordinator each time it (re-)enqueues, so a stale duplicate can be told apart. */
  generation: number;
  /** The upload's request id (workers/shared/log.ts), so its job's log lines join the upload's. */
  requestId?: string;
}

export function parseProcessJob(body: unknown): ProcessJob {
  const b = body as Partial<ProcessJob> | null;
  if (!b || b.type !== "process" || typeof b.imageId !== "string" || typeof b.life !== "string" || typeof b.originalKey !== "string" || typeof b.generation !== "number") {
    throw new Error(`malformed queue message: ${JSON.stringify(body)?.slice(0, 200)}`);
  }
  return { type: "process", imageId: b.imageId, life: b.life, originalKey: b.originalKey, generation: b.generation, requestId: carriedRequestId(b.requestId) };
}

/**
 * One batch of a variant backfill (workers/processor/variant-backfill.ts), on the same queue as image jobs: it
 * renders too, so it gets their one-message-per-batch consumer, retries and dead-letter queue.
 */
export interface VariantBackfillBatch {
  type: "variant.backfill";
  backfillId: number;
  /** The batch's number: applied only while the backfill has committed exactly this many batches. */
  batch: number;
  /** The variant change's request id, carried from batch to batch. */
  requestId?: string;
}

/** What the image-jobs queue carries. */
export type JobMessage = ProcessJob | VariantBackfillBatch;

export const isVariantBackfillBatch = (body: unknown): boolean => (body as { type?: unknown } | null)?.type === "variant.backfill";

export function parseVariantBackfillBatch(body: unknown): VariantBackfillBatch {
  const b = body as Partial<VariantBackfillBatch> | null;
  if (!b || b.type !== "variant.backfill" || !Number.isSafeInteger(b.backfillId) || !Number.isSafeInteger(b.batch) || b.batch! < 0) {
    throw new Error(`malformed queue message: ${JSON.stringify(body)?.slice(0, 200)}`);
  }
  return { type: "variant.backfill", backfillId: b.backfillId!, batch: b.batch!, requestId: carriedRequestId(b.requestId) };
}

/** The public view of a state change, as streamed to event subscribers. */
export interface StatusEvent {
  id: string;
  status: ImageStatus | "none";
  error?: string;
  attempts: number;
  updatedAt: string;
}
