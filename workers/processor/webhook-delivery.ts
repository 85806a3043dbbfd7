import { and, count, eq } from "drizzle-orm";
import { database, nowIso, primary } from "../shared/db.ts";
import { log } from "../shared/log.ts";
import { describeError } from "../shared/errors.ts";
import { parseEventQueueMessage, type PlatformEvent, type WebhookDeliveryJob } from "../shared/events.ts";
import { webhookDeliveries, type WebhookOutcome } from "../shared/schema.ts";
import { findWebhook, listWebhooks, recordDeliveryAttempt } from "../shared/webhook-records.ts";
import { signWebhook } from "../shared/webhook-signature.ts";
import type { ProcessorEnv } from "./env.ts";

/** A subscriber must answer within this long; it should queue the work and answer 2xx at once. */
const DELIVERY_TIMEOUT_MS = 10_000;
const MAX_BACKOFF_SECONDS = 60 * 60;
/** Deliveries per sendBatch call (the Queues limit). */
const SEND_BATCH_LIMIT = 100;

type Attempt = { outcome: Exclude<WebhookOutcome, "dead_letter">; statusCode: number | null; error: string | null };

/**
 * Consumes the `image-events` queue (or, with `deadLetters`, its dead-letter queue). An event is fanned out into
 * one delivery message per matching subscription; each delivery is POSTed, logged, and retried by the queue on
 * its own, so a slow or failing subscriber never holds up another's. Messages of a batch run concurrently.
 */
export async function consumeEvents(batch: MessageBatch, env: ProcessorEnv, deadLetters: boolean): Promise<void> {
  await Promise.all(batch.messages.map((message) => consumeEventMessage(message, env, deadLetters)));
}

async function consumeEventMessage(message: Message, env: ProcessorEnv, deadLetters: boolean): Promise<void> {
  let body;
  try {
    body = parseEventQueueMessage(message.body);
  } catch (error) {
    log({ event: "error", message: describeError(error) });
    message.ack();
    return;
  }
  const requestId = body.type === "webhook.delivery" ? body.event.requestId : body.requestId;
  try {
    if (body.type !== "webhook.delivery") {
      if (deadLetters) log({ event: "job.dead_letter", requestId, outcome: "never fanned out", message: `event ${body.id} (${body.type})` });
      else await fanOutEvent(env, body);
    } else if (deadLetters) {
      await recordDeadLetter(env, body);
    } else if ((await deliverWebhook(env, body, message.attempts)) === "failed") {
      log({ event: "event.delivery", requestId, outcome: "failed", attempts: message.attempts, detail: { webhookId: body.webhookId, eventId: body.event.id } });
      message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
      return;
    }
    message.ack();
  } catch (error) {
    log({ event: "warning", requestId, attempts: message.attempts, outcome: "retry", message: `event message ${message.id} failed: ${describeError(error)}` });
    message.retry({ delaySeconds: retryDelaySeconds(message.attempts) });
  }
}

/** One delivery message per subscription that wants this event type. */
export async function fanOutEvent(env: ProcessorEnv, event: PlatformEvent): Promise<number> {
  const subscribers = (await listWebhooks(database(primary(env.DB)))).filter((w) => w.events.includes(event.type));
  const jobs = subscribers.map((w): WebhookDeliveryJob => ({ type: "webhook.delivery", webhookId: w.id, event }));
  for (let i = 0; i < jobs.length; i += SEND_BATCH_LIMIT) {
    await env.EVENTS.sendBatch(jobs.slice(i, i + SEND_BATCH_LIMIT).map((body) => ({ body })));
  }
  return jobs.length;
}

/**
 * POSTs the event to its subscriber, signed per Standard Webhooks, and logs the attempt. Redirects are not
 * followed (the URL was checked, where it redirects to was not) and the answer's body is never read: only its
 * status counts. A subscription deleted meanwhile drops the delivery.
 */
export async function deliverWebhook(env: ProcessorEnv, job: WebhookDeliveryJob, attempt: number): Promise<WebhookOutcome | "dropped"> {
  const db = database(primary(env.DB));
  const webhook = await findWebhook(db, job.webhookId);
  if (!webhook) return "dropped";
  const startedAt = nowIso();
  // The request id travels with the event for our logs only: subscribers get the event as documented.
  const { requestId: _carried, ...event } = job.event;
  const body = JSON.stringify(event);
  const timestamp = Math.floor(Date.now() / 1000);
  const headers = {
    "content-type": "application/json",
    "user-agent": "image-platform-webhooks/1",
    "webhook-id": job.event.id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": await signWebhook(webhook.secret, job.event.id, timestamp, body),
  };
  const result = await post(webhook.url, headers, body);
  await recordDeliveryAttempt(db, {
    webhookId: webhook.id,
    eventId: job.event.id,
    eventType: job.event.type,
    attempt,
    ...result,
    startedAt,
    finishedAt: nowIso(),
  });
  return result.outcome;
}

async function post(url: string, headers: Record<string, string>, body: string): Promise<Attempt> {
  let response: Response;
  try {
    response = await fetch(url, { method: "POST", headers, body, redirect: "manual", signal: AbortSignal.timeout(DELIVERY_TIMEOUT_MS) });
  } catch (error) {
    const timedOut = error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
    return { outcome: "failed", statusCode: null, error: timedOut ? `no answer within ${DELIVERY_TIMEOUT_MS / 1000} s` : describeError(error).slice(0, 500) };
  }
  response.body?.cancel().catch(() => {});
  if (response.status >= 200 && response.status < 300) return { outcome: "delivered", statusCode: response.status, error: null };
  const redirect = response.status >= 300 && response.status < 400;
  return { outcome: "failed", statusCode: response.status, error: redirect ? "answered a redirect, which is not followed" : `answered ${response.status}` };
}

/** The queue gave up on a delivery: a last log row says so, with how many attempts it had. */
async function recordDeadLetter(env: ProcessorEnv, job: WebhookDeliveryJob): Promise<void> {
  const db = database(primary(env.DB));
  if (!(await findWebhook(db, job.webhookId))) return;
  const [{ attempts }] = await db
    .select({ attempts: count() })
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.webhookId, job.webhookId), eq(webhookDeliveries.eventId, job.event.id)));
  const now = nowIso();
  await recordDeliveryAttempt(db, {
    webhookId: job.webhookId,
    eventId: job.event.id,
    eventType: job.event.type,
    attempt: attempts,
    outcome: "dead_letter",
    statusCode: null,
    error: `gave up after ${attempts} attempts`,
    startedAt: now,
    finishedAt: now,
  });
}

/** 30 s, 1 min, 2 min, … up to an hour between attempts. */
export function retryDelaySeconds(attempts: number): number {
  return Math.min(MAX_BACKOFF_SECONDS, 30 * 2 ** Math.max(0, attempts - 1));
}
