import { and, asc, count, desc, eq, gt, inArray, lt, max, or } from "drizzle-orm";
import type { Db } from "./db.ts";
import { eventOwed } from "./event-outbox.ts";
import type { VariantBackfillBatch } from "./messages.ts";
import { images, renditions, variantBackfills, type ImageRow, type VariantBackfillRow } from "./schema.ts";
import { transformFingerprint, transformOfVariant, type VariantOptions } from "./transform.ts";

// Every D1 read and write of variant backfills lives here: the gateway starts and cancels them (in the batch of
// the variant change), the processor walks them, the gateway's cron resumes stalled ones.

/** The fingerprint a named variant's renditions are stored under: a backfill is for one definition. */
export const variantFingerprint = (options: VariantOptions) => transformFingerprint(transformOfVariant(options));

/** Images a backfill starting now has to go through (those not ready yet get every variant from their own job). */
export async function countReadyImages(db: Db): Promise<number> {
  const [row] = await db.select({ value: count() }).from(images).where(eq(images.status, "ready"));
  return row?.value ?? 0;
}

export interface BackfillStart {
  variant: string;
  fingerprint: string;
  total: number;
  at: string;
  /** The owed event of the variant change: the backfill starts only if that change happened (see oweEvent). */
  eventId: string;
}

/** For the variant change's batch: ends the variant's running backfill, if the change happened. */
export function cancelRunningBackfill(db: Db, variant: string, at: string, eventId: string): D1PreparedStatement {
  const query = db
    .update(variantBackfills)
    .set({ status: "cancelled", updatedAt: at, finishedAt: at })
    .where(and(eq(variantBackfills.variant, variant), eq(variantBackfills.status, "running"), eventOwed(eventId)))
    .toSQL();
  return db.$client.prepare(query.sql).bind(...query.params);
}

/** For the variant change's batch, after cancelRunningBackfill: a new backfill, if the change happened. */
export function startBackfill(db: Db, start: BackfillStart): D1PreparedStatement {
  // Written out, as drizzle can neither build nor batch an INSERT … SELECT of values (values still bound).
  return db.$client
    .prepare(
      `INSERT INTO "variant_backfills" ("variant", "fingerprint", "status", "total", "started_at", "updated_at")
       SELECT ?, ?, 'running', ?, ?, ? WHERE EXISTS (SELECT 1 FROM "event_outbox" WHERE "id" = ?)`,
    )
    .bind(start.variant, start.fingerprint, start.total, start.at, start.at, start.eventId);
}

export async function findBackfill(db: Db, id: number): Promise<VariantBackfillRow | undefined> {
  const [row] = await db.select().from(variantBackfills).where(eq(variantBackfills.id, id));
  return row;
}

/** The variant's latest backfill (the one its API answer shows), or undefined if it never had one. */
export async function latestBackfill(db: Db, variant: string): Promise<VariantBackfillRow | undefined> {
  const [row] = await db.select().from(variantBackfills).where(eq(variantBackfills.variant, variant)).orderBy(desc(variantBackfills.id)).limit(1);
  return row;
}

/** Every variant's latest backfill, by variant name. */
export async function latestBackfills(db: Db): Promise<Map<string, VariantBackfillRow>> {
  const latest = db.select({ id: max(variantBackfills.id) }).from(variantBackfills).groupBy(variantBackfills.variant);
  const rows = await db.select().from(variantBackfills).where(inArray(variantBackfills.id, latest));
  return new Map(rows.map((row) => [row.variant, row]));
}

/** The next ready images after the backfill's cursor, in (uploaded, id) order (the images_uploaded_idx index). */
export async function readyImagesAfter(db: Db, backfill: VariantBackfillRow, limit: number): Promise<ImageRow[]> {
  const { cursorUploaded: uploaded, cursorId: id } = backfill;
  const after = uploaded === null || id === null ? undefined : or(gt(images.uploaded, uploaded), and(eq(images.uploaded, uploaded), gt(images.id, id)));
  return db
    .select()
    .from(images)
    .where(and(eq(images.status, "ready"), after))
    .orderBy(asc(images.uploaded), asc(images.id))
    .limit(limit);
}

/** Which of these images' lives already have a rendition of the fingerprint, as `${imageId}\n${life}\n${format}`. */
export async function storedRenditions(db: Db, imageIds: string[], fingerprint: string): Promise<Set<string>> {
  if (imageIds.length === 0) return new Set();
  const rows = await db
    .select({ imageId: renditions.imageId, life: renditions.life, format: renditions.format })
    .from(renditions)
    .where(and(inArray(renditions.imageId, imageIds), eq(renditions.fingerprint, fingerprint)));
  return new Set(rows.map((r) => renditionSlot(r.imageId, r.life, r.format)));
}

export const renditionSlot = (imageId: string, life: string, format: string) => `${imageId}\n${life}\n${format}`;

export interface BatchTally {
  done: number;
  failed: number;
  skipped: number;
}

/**
 * Records batch `batch` as applied: counters, cursor, and `complete` when it was the last. Conditional on the
 * backfill still running with exactly `batch` batches behind it, so a redelivered or concurrent copy of the same
 * message, or a batch of a superseded backfill, changes nothing; answers whether this call applied it. The
 * counters are computed from `backfill` as read at the batch's start, which the condition guarantees is current.
 */
export async function commitBatch(
  db: Db,
  backfill: VariantBackfillRow,
  batch: number,
  tally: BatchTally,
  cursor: { uploaded: string; id: string } | undefined,
  complete: boolean,
  at: string,
): Promise<boolean> {
  const done = backfill.done + tally.done;
  const failed = backfill.failed + tally.failed;
  const skipped = backfill.skipped + tally.skipped;
  const applied = await db
    .update(variantBackfills)
    .set({
      done,
      failed,
      skipped,
      // Once complete, the total is what it went through: images deleted before it reached them drop out, and
      // images that became ready after it started come in.
      total: complete ? done + failed + skipped : Math.max(backfill.total, done + failed + skipped),
      batches: batch + 1,
      nextQueued: false,
      cursorUploaded: cursor?.uploaded ?? backfill.cursorUploaded,
      cursorId: cursor?.id ?? backfill.cursorId,
      status: complete ? "complete" : "running",
      lastError: null,
      updatedAt: at,
      finishedAt: complete ? at : null,
    })
    .where(and(eq(variantBackfills.id, backfill.id), eq(variantBackfills.batches, batch), eq(variantBackfills.status, "running")))
    .returning({ id: variantBackfills.id });
  return applied.length === 1;
}

/**
 * Sends the message of batch `batch` and records that it was sent (only while that is still the next batch). A
 * refused send throws: the caller's own message is then retried, and finds the successor not sent.
 */
export async function queueBackfillBatch(queue: Queue<VariantBackfillBatch>, db: Db, backfillId: number, batch: number, requestId?: string): Promise<void> {
  await queue.send({ type: "variant.backfill", backfillId, batch, requestId });
  await db.update(variantBackfills).set({ nextQueued: true }).where(and(eq(variantBackfills.id, backfillId), eq(variantBackfills.batches, batch)));
}

/** Whether the backfill is still running (a newer definition or a delete cancels it between two images). */
export async function isRunning(db: Db, id: number): Promise<boolean> {
  const [row] = await db.select({ status: variantBackfills.status }).from(variantBackfills).where(eq(variantBackfills.id, id));
  return row?.status === "running";
}

/** Ends a running backfill as cancelled or failed, with the reason for a failure. */
export async function endBackfill(db: Db, id: number, status: "cancelled" | "failed", at: string, reason?: string): Promise<void> {
  await db
    .update(variantBackfills)
    .set({ status, updatedAt: at, finishedAt: at, ...(reason ? { lastError: reason } : {}) })
    .where(and(eq(variantBackfills.id, id), eq(variantBackfills.status, "running")));
}

/** A batch attempt threw: the error is kept, so the dead-letter record can say what went wrong. */
export async function recordBatchError(db: Db, id: number, error: string): Promise<void> {
  await db.update(variantBackfills).set({ lastError: error.slice(0, 500) }).where(eq(variantBackfills.id, id));
}

/** Running backfills with no progress since `before`: their next message may have been lost. */
export async function stalledBackfills(db: Db, before: string, limit = 100): Promise<VariantBackfillRow[]> {
  return db
    .select()
    .from(variantBackfills)
    .where(and(eq(variantBackfills.status, "running"), lt(variantBackfills.updatedAt, before)))
    .orderBy(asc(variantBackfills.updatedAt))
    .limit(limit);
}
