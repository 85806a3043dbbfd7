import { eq } from "drizzle-orm";
import type { Context } from "hono";
import type { Db } from "../shared/db.ts";
import { describeError } from "../shared/errors.ts";
import { oweEvent, sendOwedEvent } from "../shared/event-outbox.ts";
import { variantEvent, type PlatformEvent } from "../shared/events.ts";
import { variants, type VariantBackfillRow, type VariantRow } from "../shared/schema.ts";
import type { VariantOptions } from "../shared/transform.ts";
import { log } from "../shared/log.ts";
import { cancelRunningBackfill, countReadyImages, latestBackfill, queueBackfillBatch, startBackfill, variantFingerprint } from "../shared/variant-backfills.ts";
import type { GatewayContext } from "./app.ts";

// A variant change is one D1 batch: the variant row, its variant.updated event as owed (event_outbox), and, when
// the definition's output changed, the cancellation of its running backfill and the start of a new one. Each
// statement after the change runs only if the change happened, so a refused change leaves nothing behind, and a
// change that happened always has its event and its backfill. Sending them (announce) may then fail: the event
// stays owed and the backfill unqueued, and the next backfill batch or the gateway's cron sends them.

export interface VariantChange {
  event: PlatformEvent;
  /** The variant as stored after the change (absent after a delete). */
  variant?: VariantRow;
  /** The variant's latest backfill, started by this change when its output changed. */
  backfill?: VariantBackfillRow;
}

/** Creates a variant and starts rendering it for the ready images; undefined when the name is taken. */
export async function createVariant(db: Db, values: VariantRow): Promise<VariantChange | undefined> {
  const at = values.updatedAt;
  const total = await countReadyImages(db);
  const event = variantEvent(values.id, "created", at, { status: "running", total });
  const changed = await changeBatch(db, statement(db, db.insert(variants).values(values).onConflictDoNothing()), event, await redefinition(db, values, total, event));
  if (!changed) return undefined;
  return { event, variant: values, backfill: await latestBackfill(db, values.id) };
}

/**
 * Changes a variant. Only a change of its output (fit, size, metadata: the fingerprint) starts a backfill and
 * supersedes the running one; `neverRequireSignedURLs` alone does not. Undefined when it was deleted meanwhile.
 */
export async function updateVariant(db: Db, existing: VariantRow, values: VariantRow): Promise<VariantChange | undefined> {
  const at = values.updatedAt;
  const redefined = (await variantFingerprint(existing)) !== (await variantFingerprint(values));
  const total = redefined ? await countReadyImages(db) : 0;
  const event = variantEvent(existing.id, "updated", at, redefined ? { status: "running", total } : undefined);
  const update = statement(db, db.update(variants).set(values).where(eq(variants.id, existing.id)));
  if (!(await changeBatch(db, update, event, redefined ? await redefinition(db, values, total, event) : []))) return undefined;
  return { event, variant: values, backfill: await latestBackfill(db, existing.id) };
}

/** Deletes a variant and cancels its backfill; undefined when it was deleted meanwhile. */
export async function deleteVariant(db: Db, id: string, at: string): Promise<VariantChange | undefined> {
  const event = variantEvent(id, "deleted", at);
  const changed = await changeBatch(db, statement(db, db.delete(variants).where(eq(variants.id, id))), event, [cancelRunningBackfill(db, id, at, event.id)]);
  return changed ? { event } : undefined;
}

/** Runs the change, its owed event and what follows from it in one D1 batch; answers whether the change happened. */
async function changeBatch(db: Db, change: D1PreparedStatement, event: PlatformEvent, following: D1PreparedStatement[]): Promise<boolean> {
  const [result] = await db.$client.batch([change, oweEvent(db, event, event.timestamp), ...following]);
  return result.meta.changes > 0;
}

/** A drizzle query as a D1 statement, so it can share a batch with the statements drizzle cannot build. */
function statement(db: Db, query: { toSQL(): { sql: string; params: unknown[] } }): D1PreparedStatement {
  const { sql, params } = query.toSQL();
  return db.$client.prepare(sql).bind(...params);
}

/** Sends what the change owes: its event, and the first batch of the backfill it started. A failure is logged. */
export async function announce(c: Context<GatewayContext>, change: VariantChange): Promise<void> {
  const db = c.get("db");
  await sendOwedEvent(db, c.env.EVENTS, change.event);
  const { backfill } = change;
  if (backfill?.status !== "running" || backfill.batches > 0 || backfill.nextQueued) return;
  try {
    await queueBackfillBatch(c.env.JOBS, db, backfill.id, 0, c.get("requestId"));
  } catch (error) {
    log({ event: "warning", requestId: c.get("requestId"), backfillId: backfill.id, message: `queueing the backfill failed, the cron resends it: ${describeError(error)}` });
  }
}

async function redefinition(db: Db, options: VariantOptions & { id: string; updatedAt: string }, total: number, event: PlatformEvent) {
  const at = options.updatedAt;
  const fingerprint = await variantFingerprint(options);
  return [cancelRunningBackfill(db, options.id, at, event.id), startBackfill(db, { variant: options.id, fingerprint, total, at, eventId: event.id })];
}
