import type { CoordinatorState } from "./bindings.ts";
import { randomHex, sha256Hex } from "./crypto.ts";
import { carriedRequestId, log } from "./log.ts";

/**
 * Platform events (our extension): what happened to an image or a variant, as other services see it. Each is
 * one message on the `image-events` queue (the EVENTS binding); the processor turns it into one signed webhook
 * delivery per matching subscription (workers/processor/webhook-delivery.ts).
 */
export const EVENT_TYPES = ["image.ready", "image.failed", "image.deleted", "variant.updated"] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const isEventType = (value: unknown): value is EventType => (EVENT_TYPES as readonly unknown[]).includes(value);

export interface ImageEventData {
  id: string;
  status: "ready" | "failed" | "deleted";
  /** Why processing failed (image.failed only). */
  error?: string;
}

export interface VariantEventData {
  id: string;
  action: "created" | "updated" | "deleted";
  /** A changed definition starts rendering it for the existing images (GET the variant for its progress). */
  backfill?: { status: "running"; total: number };
}

/** One event, as queued and as POSTed to subscribers (the webhook body). */
export interface PlatformEvent {
  /** Stable per event: a duplicate emission of the same change carries the same id (the `webhook-id` header). */
  id: string;
  type: EventType;
  /** ISO-8601 time of the change. */
  timestamp: string;
  data: ImageEventData | VariantEventData;
  /** The request that caused the change, for log lines on the queue's side; never POSTed to subscribers. */
  requestId?: string;
}

/** One webhook delivery: an event for one subscription, retried through the queue on its own. */
export interface WebhookDeliveryJob {
  type: "webhook.delivery";
  webhookId: string;
  event: PlatformEvent;
}

export type EventQueueMessage = PlatformEvent | WebhookDeliveryJob;

/** Producer binding of the `image-events` queue. */
export type EventQueue = Queue<EventQueueMessage>;

/**
 * The event of an image reaching a terminal status. Its id is derived from (image, life, status), so the same
 * transition emitted twice (a retried call, a replayed alarm) is the same event to a subscriber.
 */
export async function imageEvent(imageId: string, life: string, data: ImageEventData, timestamp: string): Promise<PlatformEvent> {
  const digest = await sha256Hex(JSON.stringify([imageId, life, data.status]));
  return { id: `evt_${digest.slice(0, 32)}`, type: `image.${data.status}`, timestamp, data };
}

/** A variant was created, changed or deleted: every change is its own event. */
export function variantEvent(id: string, action: VariantEventData["action"], timestamp: string, backfill?: VariantEventData["backfill"]): PlatformEvent {
  return { id: `evt_${randomHex(16)}`, type: "variant.updated", timestamp, data: { id, action, ...(backfill ? { backfill } : {}) } };
}

/** Validates a message from the `image-events` queue once, at the consumer's edge. */
export function parseEventQueueMessage(body: unknown): EventQueueMessage {
  const b = body as Partial<WebhookDeliveryJob> | null;
  if (b && b.type === "webhook.delivery") {
    if (typeof b.webhookId !== "string") throw malformed(body);
    return { type: "webhook.delivery", webhookId: b.webhookId, event: parsePlatformEvent(b.event) };
  }
  return parsePlatformEvent(body);
}

function parsePlatformEvent(body: unknown): PlatformEvent {
  const e = body as Partial<PlatformEvent> | null;
  if (!e || typeof e.id !== "string" || !isEventType(e.type) || typeof e.timestamp !== "string" || typeof e.data !== "object" || e.data === null) {
    throw malformed(body);
  }
  return { id: e.id, type: e.type, timestamp: e.timestamp, data: e.data, requestId: carriedRequestId(e.requestId) };
}

const malformed = (body: unknown) => new Error(`malformed event queue message: ${JSON.stringify(body)?.slice(0, 200)}`);

/**
 * Queues an event. A failed send is logged, not thrown: the change it reports has already happened and been
 * stored, and failing the caller would not bring the event back (a retried transition is a no-op).
 */
/** Sends an event; answers whether it was sent (a failure is logged, and the caller decides whether to retry). */
export async function emitEvent(queue: EventQueue, event: PlatformEvent): Promise<boolean> {
  try {
    await queue.send(event);
    return true;
  } catch (error) {
    log({ event: "warning", requestId: event.requestId, message: `emitting event ${event.id} (${event.type}) failed: ${error instanceof Error ? error.message : String(error)}` });
    return false;
  }
}

/** The coordinator's terminal statuses as events: ready, failed (with its reason), deleted. */
export async function emitImageEvent(queue: EventQueue, state: CoordinatorState): Promise<boolean> {
  const status = state.status;
  if (status !== "ready" && status !== "failed" && status !== "deleted") return true;
  const data: ImageEventData = { id: state.imageId, status, ...(status === "failed" && state.error ? { error: state.error } : {}) };
  return emitEvent(queue, { ...(await imageEvent(state.imageId, state.life, data, state.updatedAt)), requestId: state.requestId });
}
