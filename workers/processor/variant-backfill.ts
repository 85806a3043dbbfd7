import { eq } from "drizzle-orm";
import { CodecError } from "../../wasm/src/errors.ts";
import { parseConfig, type Config } from "../shared/config.ts";
import { coordinatorOf } from "../shared/coordinators.ts";
import { database, nowIso, primary, type Db } from "../shared/db.ts";
import { ApiError, describeError } from "../shared/errors.ts";
import { flushOwedEvents } from "../shared/event-outbox.ts";
import { log, since } from "../shared/log.ts";
import { recordJob } from "../shared/metrics.ts";
import { recordDeadLetterSample } from "../shared/pipeline-stats.ts";
import { parseVariantBackfillBatch, type VariantBackfillBatch } from "../shared/messages.ts";
import { discardLife } from "../shared/renditions.ts";
import { imageLifeUpdate, placeholderColumns } from "../shared/image-records.ts";
import { variants, type ImageRow, type VariantBackfillRow, type VariantRow } from "../shared/schema.ts";
import { imageStorageId, originalKey } from "../shared/storage.ts";
import {
  commitBatch,
  endBackfill,
  findBackfill,
  isRunning,
  queueBackfillBatch,
  readyImagesAfter,
  recordBatchError,
  renditionSlot,
  storedRenditions,
  variantFingerprint,
  type BatchTally,
} from "../shared/variant-backfills.ts";
import { eagerFormats, eagerRequests, renderAndStore } from "./eager-renditions.ts";
import { readStoredOriginal } from "./pipeline/stored-original.ts";
import type { ProcessorEnv } from "./env.ts";
import { newRenderTrace, reportRender, timed } from "./render-trace.ts";

/**
 * A batch stops taking further images once it has rendered for this long, and commits what it did: renders are
 * CPU-bound, so this keeps a batch of very large originals well inside the processor's 60 s CPU limit, where a
 * batch killed by the limit would be retried whole and never get further.
 */
export const BATCH_TIME_BUDGET_MS = 30_000;

export type BatchOutcome = "applied" | "complete" | "stopped" | "duplicate";
export type ImageOutcome = keyof BatchTally;

/**
 * One message of the image-jobs queue (or its dead-letter queue) that is a backfill batch: applied and
 * acknowledged, or retried with backoff when it throws; a dead letter ends the backfill `failed`, with the last
 * error its attempts met.
 */
export async function consumeBackfillBatch(message: Message, env: ProcessorEnv, deadLetters: boolean): Promise<void> {
  let job: VariantBackfillBatch;
  try {
    job = parseVariantBackfillBatch(message.body);
  } catch (error) {
    log({ event: "error", message: describeError(error) });
    message.ack();
    return;
  }
  const db = database(primary(env.DB));
  const started = Date.now();
  const queueWaitMs = Math.max(0, started - message.timestamp.getTime());
  const finish = (outcome: string, error?: unknown) => {
    const ms = since(started);
    const line = { requestId: job.requestId, backfillId: job.backfillId, batch: job.batch, attempts: message.attempts, queueWaitMs, outcome, ms };
    log({ event: deadLetters ? "job.dead_letter" : "backfill.batch", ...line, message: error === undefined ? undefined : describeError(error) });
    recordJob(env, { type: job.type, outcome, attempts: message.attempts, queueWaitMs, ms });
  };
  if (deadLetters) {
    const backfill = await findBackfill(db, job.backfillId);
    const last = backfill?.lastError ? `: ${backfill.lastError}` : "";
    await endBackfill(db, job.backfillId, "failed", nowIso(), `batch ${job.batch} failed on every attempt${last}`);
    await recordDeadLetterSample(db, job.type);
    finish("dead_letter");
    message.ack();
    return;
  }
  try {
    finish(await runBackfillBatch(env, job));
    message.ack();
  } catch (error) {
    finish("retry", error);
    await recordBatchError(db, job.backfillId, describeError(error)).catch(() => {});
    message.retry({ delaySeconds: Math.min(60, 2 ** message.attempts) });
  }
}

/**
 * Applies batch `job.batch` of a backfill: renders the variant's eager formats for the next ready images after
 * the cursor (one decode each, skipping what is stored; at most `budgetMs` of rendering), records the progress,
 * and enqueues the next batch. The
 * batch number makes it idempotent: a copy of a batch already applied only makes sure its successor was sent.
 * Owed events are sent first (a variant change's own event among them), whatever the batch then does.
 */
export async function runBackfillBatch(env: ProcessorEnv, job: VariantBackfillBatch, budgetMs = BATCH_TIME_BUDGET_MS): Promise<BatchOutcome> {
  const config = parseConfig(env, false);
  const db = database(primary(env.DB));
  await flushOwedEvents(db, env.EVENTS);
  const backfill = await findBackfill(db, job.backfillId);
  if (!backfill || backfill.status !== "running") return "stopped";
  if (job.batch !== backfill.batches) {
    // Applied before: the crash or refused send that made the queue redeliver it may have cost the successor.
    if (job.batch === backfill.batches - 1 && !backfill.nextQueued) await queueBackfillBatch(env.JOBS, db, backfill.id, backfill.batches, job.requestId);
    return "duplicate";
  }
  const variant = await currentDefinition(db, backfill);
  if (!variant) {
    // The variant changed or went without this backfill being cancelled (the change's batch does that): stop it.
    await endBackfill(db, backfill.id, "cancelled", nowIso());
    return "stopped";
  }

  const candidates = await readyImagesAfter(db, backfill, config.backfillBatchSize);
  const stored = await storedRenditions(db, candidates.map((image) => image.id), backfill.fingerprint);
  const tally: BatchTally = { done: 0, failed: 0, skipped: 0 };
  const started = Date.now();
  let taken = 0;
  for (const image of candidates) {
    if (taken > 0 && Date.now() - started >= budgetMs) break;
    if (!(await isRunning(db, backfill.id))) return "stopped";
    tally[await backfillImage(env, config, variant, image, stored, job.requestId)]++;
    taken++;
  }
  const last = candidates[taken - 1];
  const complete = taken === candidates.length && candidates.length < config.backfillBatchSize;
  const cursor = last && { uploaded: last.uploaded, id: last.id };
  if (!(await commitBatch(db, backfill, job.batch, tally, cursor, complete, nowIso()))) return "stopped";
  if (complete) return "complete";
  await queueBackfillBatch(env.JOBS, db, backfill.id, job.batch + 1, job.requestId);
  return "applied";
}

/**
 * Renders one image's missing eager renditions of the variant from its original and stores them under the
 * life the batch read. If that life ended meanwhile (deleted, or uploaded again), what was stored is removed and
 * the image is `skipped`: the same rule as a job's. A file that will not render is `failed`; anything else (R2,
 * D1, a busy render slot) is thrown, and the queue retries the batch.
 */
export async function backfillImage(
  env: ProcessorEnv,
  config: Config,
  variant: VariantRow,
  image: ImageRow,
  stored: Set<string>,
  requestId?: string,
): Promise<ImageOutcome> {
  const formats = eagerFormats(image.hasAlpha ?? false).filter((format) => !stored.has(renditionSlot(image.id, image.life, format)));
  if (formats.length === 0) return "done";
  const target = { imageId: image.id, life: image.life, storageId: await imageStorageId(image.id) };
  const trace = newRenderTrace();
  const report = { trigger: "backfill" as const, requestId, imageId: image.id, outputs: formats.length };
  try {
    const stored = await timed(trace, "fetchOriginal", () => readStoredOriginal(env.BUCKET, originalKey(target)));
    if (!stored) return (await lifeIsCurrent(env, image)) ? failed(image, "the original is missing from storage", requestId) : "skipped";
    const { header, source: original } = stored;
    // In the D1 batch that indexes the renditions (with the stats sample): a placeholder for an image
    // processed before placeholders existed (only its own life's record).
    await renderAndStore(env, config, target, original, header, await eagerRequests([variant], header, formats), trace, "backfill", (placeholder, batch) =>
      placeholder && !image.thumbhash ? [imageLifeUpdate(batch, image.id, image.life, placeholderColumns(placeholder))] : [],
    );
  } catch (error) {
    if (error instanceof CodecError || (error instanceof ApiError && error.permanent)) {
      reportRender(env, trace, { ...report, outcome: error instanceof CodecError ? error.kind : "refused", message: error.message });
      return failed(image, error.message, requestId);
    }
    throw error;
  }
  reportRender(env, trace, { ...report, outcome: "ok" });
  if (await lifeIsCurrent(env, image)) return "done";
  await discardLife(env, target);
  return "skipped";
}

/** Whether the life read from D1 is still the image's, and ready: its coordinator is the one to ask. */
async function lifeIsCurrent(env: ProcessorEnv, image: ImageRow): Promise<boolean> {
  const state = await coordinatorOf(env, image.id).snapshot();
  return state.status === "ready" && state.life === image.life;
}

function failed(image: ImageRow, reason: string, requestId?: string): ImageOutcome {
  log({ event: "warning", requestId, imageId: image.id, message: `backfill: the image did not render: ${reason}` });
  return "failed";
}

/** The variant as this backfill renders it, or undefined when it was deleted or has another definition now. */
async function currentDefinition(db: Db, backfill: VariantBackfillRow): Promise<VariantRow | undefined> {
  const [variant] = await db.select().from(variants).where(eq(variants.id, backfill.variant));
  return variant && (await variantFingerprint(variant)) === backfill.fingerprint ? variant : undefined;
}
