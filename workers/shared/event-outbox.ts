import { asc, eq, inArray, sql } from "drizzle-orm";
import type { Db } from "./db.ts";
import { describeError } from "./errors.ts";
import { emitEvent, type EventQueue, type PlatformEvent } from "./events.ts";
import { eventOutbox } from "./schema.ts";

/** Owed events sent per flush; the rest wait for the next one. */
const FLUSH_LIMIT = 100;

/**
 * The statement that records `event` as owed, for the D1 batch of the change it reports. It must come right
 * after the statement that makes the change: the row is written only if that statement changed a row (SQLite's
 * changes()), so a refused change (a conflict, a variant deleted meanwhile) owes nothing. The row's existence then
 * witnesses, to later statements of the batch, that the change happened.
 */
export function oweEvent(db: Db, event: PlatformEvent, createdAt: string): D1PreparedStatement {
  // drizzle can neither build nor batch an INSERT … SELECT of values, so this one is written out (values bound).
  return db.$client
    .prepare(`INSERT INTO "event_outbox" ("id", "event", "created_at") SELECT ?, ?, ? WHERE changes() = 1`)
    .bind(event.id, JSON.stringify(event), createdAt);
}

/** A condition for later statements of the same batch: the change that owes `eventId` happened. */
export const eventOwed = (eventId: string) => sql`EXISTS (SELECT 1 FROM ${eventOutbox} WHERE ${eventOutbox.id} = ${eventId})`;

/** Sends one owed event now and forgets it once the queue took it; a refusal leaves it owed for a later flush. */
export async function sendOwedEvent(db: Db, queue: EventQueue, event: PlatformEvent): Promise<boolean> {
  if (!(await emitEvent(queue, event))) return false;
  try {
    await db.delete(eventOutbox).where(eq(eventOutbox.id, event.id));
  } catch (error) {
    // Still owed as far as D1 knows: a later flush sends it again, with the same id, which subscribers dedupe.
    console.error(`forgetting sent event ${event.id} failed:`, describeError(error));
  }
  return true;
}

/**
 * Sends the oldest owed events (every backfill batch and the gateway's cron call this). A failure is logged and
 * answered as 0: the events stay owed, and the caller's own work should not fail for them.
 */
export async function flushOwedEvents(db: Db, queue: EventQueue): Promise<number> {
  try {
    const owed = await db.select().from(eventOutbox).orderBy(asc(eventOutbox.createdAt)).limit(FLUSH_LIMIT);
    if (owed.length === 0) return 0;
    await queue.sendBatch(owed.map((row) => ({ body: row.event })));
    await db.delete(eventOutbox).where(inArray(eventOutbox.id, owed.map((row) => row.id)));
    return owed.length;
  } catch (error) {
    console.error("sending owed events failed, they stay owed:", describeError(error));
    return 0;
  }
}
