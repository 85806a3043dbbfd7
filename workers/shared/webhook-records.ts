import { and, desc, eq, notInArray, sql } from "drizzle-orm";
import type { Db } from "./db.ts";
import { webhookDeliveries, webhooks, type WebhookDeliveryRow, type WebhookRow } from "./schema.ts";

/** Attempts kept per subscription: the log answers "what happened lately", not an archive. */
export const DELIVERY_LOG_LIMIT = 200;

export type NewWebhook = Omit<WebhookRow, "createdAt">;
export type DeliveryAttempt = Omit<WebhookDeliveryRow, "id">;

export async function insertWebhook(db: Db, webhook: NewWebhook, createdAt: string): Promise<WebhookRow> {
  const [row] = await db.insert(webhooks).values({ ...webhook, createdAt }).returning();
  return row;
}

export async function listWebhooks(db: Db): Promise<WebhookRow[]> {
  return db.select().from(webhooks).orderBy(webhooks.createdAt, webhooks.id);
}

export async function findWebhook(db: Db, id: string): Promise<WebhookRow | undefined> {
  const [row] = await db.select().from(webhooks).where(eq(webhooks.id, id));
  return row;
}

export async function countWebhooks(db: Db): Promise<number> {
  const [{ total }] = await db.select({ total: sql<number>`count(*)` }).from(webhooks);
  return total;
}

/** Removes a subscription and its log; deliveries still queued for it find no subscription and are dropped. */
export async function deleteWebhook(db: Db, id: string): Promise<boolean> {
  const [deleted] = await db.batch([
    db.delete(webhooks).where(eq(webhooks.id, id)).returning({ id: webhooks.id }),
    db.delete(webhookDeliveries).where(eq(webhookDeliveries.webhookId, id)),
  ]);
  return deleted.length > 0;
}

/** The subscription's log, newest first. */
export async function listDeliveries(db: Db, webhookId: string, limit = DELIVERY_LOG_LIMIT): Promise<WebhookDeliveryRow[]> {
  return db.select().from(webhookDeliveries).where(eq(webhookDeliveries.webhookId, webhookId)).orderBy(desc(webhookDeliveries.id)).limit(limit);
}

/** Logs one attempt and trims the subscription's log to its newest DELIVERY_LOG_LIMIT rows, in one batch. */
export async function recordDeliveryAttempt(db: Db, attempt: DeliveryAttempt): Promise<void> {
  const newest = db
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .where(eq(webhookDeliveries.webhookId, attempt.webhookId))
    .orderBy(desc(webhookDeliveries.id))
    .limit(DELIVERY_LOG_LIMIT);
  await db.batch([
    db.insert(webhookDeliveries).values(attempt),
    db.delete(webhookDeliveries).where(and(eq(webhookDeliveries.webhookId, attempt.webhookId), notInArray(webhookDeliveries.id, newest))),
  ]);
}

