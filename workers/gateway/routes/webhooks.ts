import type { Config } from "../../shared/config.ts";
import { randomHex } from "../../shared/crypto.ts";
import { nowIso, type Db } from "../../shared/db.ts";
import { badRequest, envelope, notFound, quote } from "../../shared/errors.ts";
import { EVENT_TYPES, isEventType, type EventType } from "../../shared/events.ts";
import type { WebhookDeliveryRow, WebhookRow } from "../../shared/schema.ts";
import { newWebhookSecret } from "../../shared/webhook-signature.ts";
import { countWebhooks, deleteWebhook, findWebhook, insertWebhook, listDeliveries, listWebhooks } from "../../shared/webhook-records.ts";
import { router } from "../app.ts";
import { readJsonObject } from "../request-body.ts";
import { classifyHost } from "../source-address.ts";
import { checkSourceUrl } from "../source-fetch.ts";

const MAX_WEBHOOKS = 25;
const MAX_URL_LENGTH = 2048;
const FIELDS = ["url", "events"];

/**
 * `/accounts/:account_id/images/v1/webhooks` (our extension): subscriptions that receive the account's events as
 * signed POSTs (Standard Webhooks). Reading needs images:read; creating and deleting is for the bootstrap
 * API_TOKEN only (auth.ts), since a subscription sends every image event of the account to a URL of its choice.
 */
export const webhookRoutes = router();

webhookRoutes.post("/", async (c) => {
  const config = c.get("config");
  const body = await readJsonObject(c.req.raw, config);
  const unknown = Object.keys(body).filter((k) => !FIELDS.includes(k));
  if (unknown.length > 0) throw badRequest(`unknown field ${unknown.map((k) => quote(k)).join(", ")}: a webhook takes ${FIELDS.join(", ")}`);
  const url = checkSubscriberUrl(body.url, config);
  const events = parseEvents(body.events);
  const db = c.get("db");
  if ((await countWebhooks(db)) >= MAX_WEBHOOKS) throw badRequest(`an account can have at most ${MAX_WEBHOOKS} webhooks`);
  const row = await insertWebhook(db, { id: `wh_${randomHex(12)}`, url, events, secret: newWebhookSecret() }, nowIso());
  // The only time the secret leaves the platform.
  return c.json(envelope({ ...presentWebhook(row), secret: row.secret }));
});

webhookRoutes.get("/", async (c) => c.json(envelope((await listWebhooks(c.get("db"))).map(presentWebhook))));

webhookRoutes.get("/:webhook_id", async (c) => c.json(envelope(presentWebhook(await requireWebhook(c.get("db"), c.req.param("webhook_id"))))));

webhookRoutes.delete("/:webhook_id", async (c) => {
  const id = c.req.param("webhook_id");
  if (!(await deleteWebhook(c.get("db"), id))) throw notFound(`webhook ${quote(id)} not found`);
  return c.json(envelope({ id }));
});

webhookRoutes.get("/:webhook_id/deliveries", async (c) => {
  const db = c.get("db");
  const webhook = await requireWebhook(db, c.req.param("webhook_id"));
  return c.json(envelope((await listDeliveries(db, webhook.id)).map(presentDelivery)));
});

async function requireWebhook(db: Db, id: string): Promise<WebhookRow> {
  const row = await findWebhook(db, id);
  if (!row) throw notFound(`webhook ${quote(id)} not found`);
  return row;
}

/**
 * A subscriber must be reachable the way an upload source is (the same classifier, so one rule decides what is
 * public), and over https: the body carries the account's image ids. Plain http only to a loopback receiver
 * under ALLOW_LOOPBACK_SOURCES (tests, local tools). ALLOWED_SOURCES restricts where images come from, not where
 * events go, so it does not apply here.
 */
function checkSubscriberUrl(raw: unknown, config: Config): string {
  if (typeof raw !== "string" || raw.length === 0 || raw.length > MAX_URL_LENGTH) {
    throw badRequest(`url must be an https URL of at most ${MAX_URL_LENGTH} characters, got ${quote(raw)}`);
  }
  const url = checkSourceUrl(raw, { ...config.sources, allowedPrefixes: [] });
  // checkSourceUrl lets a loopback host through only when ALLOW_LOOPBACK_SOURCES is on.
  if (url.protocol !== "https:" && classifyHost(url.hostname).kind !== "loopback") {
    throw badRequest(`url must use https, got ${url.protocol.slice(0, -1)}`);
  }
  if (url.hash) throw badRequest("url must not have a fragment");
  return url.href;
}

function parseEvents(raw: unknown): EventType[] {
  if (raw === undefined) return [...EVENT_TYPES];
  if (!Array.isArray(raw) || raw.length === 0) {
    throw badRequest(`events must be a non-empty array of event types (${EVENT_TYPES.join(", ")}), got ${quote(raw)}`);
  }
  const unknown = raw.filter((e) => !isEventType(e));
  if (unknown.length > 0) throw badRequest(`events: unknown event type ${unknown.map((e) => quote(e)).join(", ")}; allowed: ${EVENT_TYPES.join(", ")}`);
  return EVENT_TYPES.filter((e) => raw.includes(e));
}

/** A subscription as the API shows it: never its secret (only at creation). */
function presentWebhook(row: WebhookRow) {
  return { id: row.id, url: row.url, events: row.events, created: row.createdAt };
}

function presentDelivery(row: WebhookDeliveryRow) {
  return {
    event_id: row.eventId,
    event_type: row.eventType,
    attempt: row.attempt,
    outcome: row.outcome,
    status_code: row.statusCode,
    error: row.error,
    started: row.startedAt,
    finished: row.finishedAt,
  };
}
