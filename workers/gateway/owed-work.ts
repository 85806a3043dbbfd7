import { database, primary } from "../shared/db.ts";
import { describeError } from "../shared/errors.ts";
import { flushOwedEvents } from "../shared/event-outbox.ts";
import type { EventQueue } from "../shared/events.ts";
import type { VariantBackfillBatch } from "../shared/messages.ts";
import { queueBackfillBatch, stalledBackfills } from "../shared/variant-backfills.ts";

/**
 * A running backfill with no progress for this long has probably lost its next message (a refused send, a local
 * queue that crashed): its current batch is sent again. A duplicate of a batch still on its way is harmless, since
 * a batch applies only once.
 */
const STALLED_AFTER_MS = 15 * 60 * 1000;

/**
 * The backstop for work that is owed but whose sender gave up (from the gateway's hourly cron): events the queue
 * refused at the time of their change and that no backfill batch has sent since, and stalled backfills.
 */
export async function resendOwedWork(env: { DB: D1Database; EVENTS: EventQueue; JOBS: Queue<VariantBackfillBatch> }, now = Date.now()) {
  const db = database(primary(env.DB));
  const events = await flushOwedEvents(db, env.EVENTS);
  let backfills = 0;
  for (const backfill of await stalledBackfills(db, new Date(now - STALLED_AFTER_MS).toISOString())) {
    try {
      await queueBackfillBatch(env.JOBS, db, backfill.id, backfill.batches);
      backfills++;
    } catch (error) {
      console.error(`resuming backfill ${backfill.id} failed, the next cron tries again:`, describeError(error));
    }
  }
  return { events, backfills };
}
