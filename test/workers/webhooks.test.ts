import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { afterEach, describe, expect, inject, it } from "vitest";
import { imageEvent, type PlatformEvent, type WebhookDeliveryJob } from "../../workers/shared/events.ts";
import processor from "../../workers/processor/index.ts";
import { retryDelaySeconds } from "../../workers/processor/webhook-delivery.ts";
import { database } from "../../workers/shared/db.ts";
import { DELIVERY_LOG_LIMIT, recordDeliveryAttempt } from "../../workers/shared/webhook-records.ts";
import { signWebhook } from "../../workers/shared/webhook-signature.ts";
import type { HookRequest, SourceStats } from "../fixtures/source-server-context.ts";
import { API, AUTH, api, coordinator, eventually, gatewayWith, json, jsonBody, upload, waitForStatus } from "./helpers.ts";

const { origin } = inject("sourceServer");
const WEBHOOKS = `${API}/v1/webhooks`;
const LOOPBACK = { ALLOW_LOOPBACK_SOURCES: "true" };

/** The consumer as the runtime calls it (the handler ignores its execution context, the test helpers need one). */
const consume = processor.queue as unknown as (batch: MessageBatch, env: unknown, ctx: ExecutionContext) => Promise<void>;

/** Creates a subscription; loopback receivers need ALLOW_LOOPBACK_SOURCES, as a local deployment would set it. */
function createWebhook(fields: Record<string, unknown>, vars: Record<string, string> = LOOPBACK): Promise<Response> {
  return gatewayWith(vars, WEBHOOKS, { method: "POST", ...jsonBody(fields), headers: { ...AUTH, "content-type": "application/json" } });
}

async function subscribe(receiver: string, events?: string[]) {
  return (await json(await createWebhook({ url: `${origin}/hooks/${receiver}`, events }))).result as { id: string; secret: string; events: string[] };
}

async function received(receiver: string): Promise<HookRequest[]> {
  const stats = (await (await fetch(`${origin}/stats`)).json()) as SourceStats;
  return stats.hooks[receiver] ?? [];
}

const eventsOf = (requests: HookRequest[]) => requests.map((r) => JSON.parse(r.body) as PlatformEvent);

/** Verifies a received request the way a subscriber would, with WebCrypto's verify (not our signer). */
async function verifies(request: HookRequest, secret: string): Promise<boolean> {
  const key = await crypto.subtle.importKey("raw", Uint8Array.from(atob(secret.slice("whsec_".length)), (c) => c.charCodeAt(0)), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
  const signature = request.headers["webhook-signature"].replace(/^v1,/, "");
  const signed = `${request.headers["webhook-id"]}.${request.headers["webhook-timestamp"]}.${request.body}`;
  return crypto.subtle.verify("HMAC", key, Uint8Array.from(atob(signature), (c) => c.charCodeAt(0)), new TextEncoder().encode(signed));
}

async function deliveries(webhookId: string) {
  return (await json(await api(`/v1/webhooks/${webhookId}/deliveries`))).result as { event_id: string; attempt: number; outcome: string; status_code: number | null; error: string | null }[];
}

function deliveryBatch(job: WebhookDeliveryJob, attempts: number, queue = "image-events") {
  return createMessageBatch(queue, [{ id: `${job.webhookId}-${attempts}`, timestamp: new Date(), attempts, body: job }]);
}

async function run(batch: MessageBatch, consumerEnv: unknown = env) {
  const ctx = createExecutionContext();
  await consume(batch, consumerEnv, ctx);
  return getQueueResult(batch, ctx);
}

// Each test's subscriptions end with it, so events of later tests are not delivered to earlier receivers.
afterEach(async () => {
  await env.DB.prepare("DELETE FROM webhooks").run();
});

const testEvent = (id: string): PlatformEvent => ({ id, type: "variant.updated", timestamp: new Date().toISOString(), data: { id: "thumb", action: "updated" } });

describe("webhook subscriptions", () => {
  it("creates a subscription with a Standard Webhooks secret shown only at creation", async () => {
    const created = (await json(await createWebhook({ url: `${origin}/hooks/crud` }))).result;
    expect(created).toMatchObject({ id: expect.stringMatching(/^wh_/), url: `${origin}/hooks/crud`, events: ["image.ready", "image.failed", "image.deleted", "variant.updated"] });
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(atob(created.secret.slice(6)).length).toBeGreaterThanOrEqual(24);

    const shown = (await json(await api(`/v1/webhooks/${created.id}`))).result;
    expect(shown).toEqual({ id: created.id, url: created.url, events: created.events, created: created.created });
    expect((await json(await api("/v1/webhooks"))).result).toContainEqual(shown);

    expect((await json(await api(`/v1/webhooks/${created.id}`, { method: "DELETE" }))).result).toEqual({ id: created.id });
    await json(await api(`/v1/webhooks/${created.id}`), 404);
    await json(await api(`/v1/webhooks/${created.id}/deliveries`), 404);
  });

  it("keeps only the event types asked for, in their canonical order", async () => {
    const created = await subscribe("subset", ["image.failed", "image.ready"]);
    expect(created.events).toEqual(["image.ready", "image.failed"]);
  });

  it.each([
    ["a private address", "https://10.1.2.3/hook", "10.1.2.3 is a private address (10.0.0.0/8)"],
    ["a link-local address", "https://169.254.169.254/latest", "169.254.169.254 is a link-local address"],
    ["a local name", "https://printer.local/hook", "printer.local is a name that only resolves inside a local network"],
    ["plain http to a public host", "http://hooks.example.com/in", "url must use https, got http"],
    ["a non-default port on a public host", "https://hooks.example.com:8443/in", "url must use the default https port 443"],
    ["credentials", "https://user:pw@hooks.example.com/in", "url must not carry credentials"],
    ["not a URL", "hooks", "url is not a valid URL"],
  ])("refuses %s by name", async (_name, url, message) => {
    const body = await json(await createWebhook({ url }), 400);
    expect(body.errors[0].message).toContain(message);
  });

  it("refuses a loopback receiver unless ALLOW_LOOPBACK_SOURCES is on", async () => {
    const body = await json(await createWebhook({ url: `${origin}/hooks/x` }, {}), 400);
    expect(body.errors[0].message).toContain("127.0.0.1 is a loopback address");
  });

  it("refuses unknown event types and fields, naming them", async () => {
    expect((await json(await createWebhook({ url: "https://hooks.example.com/in", events: ["image.uploaded"] }), 400)).errors[0].message).toContain('unknown event type "image.uploaded"');
    expect((await json(await createWebhook({ url: "https://hooks.example.com/in", events: [] }), 400)).errors[0].message).toContain("events must be a non-empty array");
    expect((await json(await createWebhook({ url: "https://hooks.example.com/in", secret: "mine" }), 400)).errors[0].message).toContain('unknown field "secret"');
  });

  it("lets a scoped token read subscriptions but only the bootstrap token create or delete them", async () => {
    const tokens = "https://images.test/client/v4/accounts/test-account/tokens";
    const issued = await gatewayWith({}, tokens, { method: "POST", headers: { ...AUTH, "content-type": "application/json" }, body: JSON.stringify({ name: "svc", scopes: ["images:read", "images:write"] }) });
    const { value } = (await json(issued)).result;
    const scoped = { authorization: `Bearer ${value}`, "content-type": "application/json" };
    await json(await gatewayWith({}, WEBHOOKS, { headers: scoped }));
    const refused = await json(await gatewayWith(LOOPBACK, WEBHOOKS, { method: "POST", headers: scoped, body: JSON.stringify({ url: "https://hooks.example.com/in" }) }), 403);
    expect(refused.errors[0].message).toContain("only for the bootstrap API_TOKEN");
    await json(await gatewayWith({}, `${WEBHOOKS}/wh_x`, { method: "DELETE", headers: scoped }), 403);
  });
});

describe("signing", () => {
  it("reproduces the Standard Webhooks reference test vector", async () => {
    // Published with the Standard Webhooks / Svix reference libraries' tests.
    const signature = await signWebhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, '{"test": 2432232314}');
    expect(signature).toBe("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  });
});

describe("image events", () => {
  it("names an image event by its image, life and status, so the same transition emitted twice is one event", async () => {
    const ready = { id: "photo", status: "ready" as const };
    const first = await imageEvent("photo", "life-1", ready, "2026-12-01T00:00:00.000Z");
    expect((await imageEvent("photo", "life-1", ready, "2026-12-01T00:00:05.000Z")).id).toBe(first.id);
    expect((await imageEvent("photo", "life-2", ready, first.timestamp)).id).not.toBe(first.id);
    expect((await imageEvent("other", "life-1", { id: "other", status: "ready" }, first.timestamp)).id).not.toBe(first.id);
    expect((await imageEvent("photo", "life-1", { id: "photo", status: "deleted" }, first.timestamp)).id).not.toBe(first.id);
  });

  it("delivers exactly one signed image.ready and one image.deleted per image, even when a transition repeats", async () => {
    const hook = await subscribe("lifecycle", ["image.ready", "image.failed", "image.deleted"]);
    await json(await upload("landscapeJpeg", { id: "evented" }));
    const ready = await waitForStatus("evented", ["ready"]);
    const mine = async () => eventsOf(await received("lifecycle")).filter((e) => (e.data as { id: string }).id === "evented");
    await eventually(async () => expect((await mine()).map((e) => e.type)).toEqual(["image.ready"]), 15_000);

    // A repeated completion and a late failure after ready change nothing, so they emit nothing.
    expect(await coordinator("evented").complete(ready.life)).toBe("ready");
    await coordinator("evented").fail("late");
    await json(await api("/v1/evented", { method: "DELETE" }));
    await eventually(async () => expect((await mine()).map((e) => e.type)).toEqual(["image.ready", "image.deleted"]), 15_000);
    await new Promise((r) => setTimeout(r, 1500));
    expect((await mine()).map((e) => e.type)).toEqual(["image.ready", "image.deleted"]);

    const requests = (await received("lifecycle")).filter((r) => JSON.parse(r.body).data.id === "evented");
    const [readyEvent] = eventsOf(requests);
    expect(readyEvent).toMatchObject({ id: expect.stringMatching(/^evt_/), type: "image.ready", data: { id: "evented", status: "ready" } });
    expect(requests[0].headers["webhook-id"]).toBe(readyEvent.id);
    for (const request of requests) expect(await verifies(request, hook.secret)).toBe(true);
    expect(await verifies({ ...requests[0], body: requests[0].body.replace("ready", "faked") }, hook.secret)).toBe(false);
  });

  it("delivers image.failed with the reason", async () => {
    await subscribe("failures", ["image.failed"]);
    await json(await upload("corruptJpeg", { id: "evented-broken" }));
    const state = await waitForStatus("evented-broken", ["failed", "ready"]);
    expect(state.status).toBe("failed");
    await eventually(async () => {
      const [event] = eventsOf(await received("failures")).filter((e) => (e.data as { id: string }).id === "evented-broken");
      expect(event).toMatchObject({ type: "image.failed", data: { id: "evented-broken", status: "failed", error: state.error } });
    }, 15_000);
  });
});

describe("delivery", () => {
  it("fans an event out as one delivery per subscription that wants its type", async () => {
    const wants = await subscribe("fan-wants", ["variant.updated"]);
    const ignores = await subscribe("fan-ignores", ["image.ready"]);
    const sent: WebhookDeliveryJob[] = [];
    const events = { send: async () => {}, sendBatch: async (batch: { body: WebhookDeliveryJob }[]) => void sent.push(...batch.map((m) => m.body)) };
    const event = testEvent("evt_fan_out");
    const result = await run(createMessageBatch("image-events", [{ id: "fan", timestamp: new Date(), attempts: 1, body: event }]), { ...env, EVENTS: events });
    expect(result.explicitAcks).toEqual(["fan"]);
    const targets = sent.filter((job) => job.event.id === "evt_fan_out").map((job) => job.webhookId);
    expect(targets).toContain(wants.id);
    expect(targets).not.toContain(ignores.id);
    expect(sent.every((job) => job.type === "webhook.delivery" && job.event.id === "evt_fan_out")).toBe(true);
  });

  it("retries a failing subscriber until it answers 2xx, logging every attempt newest first", async () => {
    const hook = await subscribe("flaky?fail=2", ["variant.updated"]);
    const job: WebhookDeliveryJob = { type: "webhook.delivery", webhookId: hook.id, event: testEvent("evt_retried") };
    const first = await run(deliveryBatch(job, 1));
    expect(first.retryMessages.map((m) => m.msgId)).toEqual([`${hook.id}-1`]);
    expect((await run(deliveryBatch(job, 2))).retryMessages.map((m) => m.msgId)).toEqual([`${hook.id}-2`]);
    expect((await run(deliveryBatch(job, 3))).explicitAcks).toEqual([`${hook.id}-3`]);

    const log = (await deliveries(hook.id)).filter((d) => d.event_id === "evt_retried");
    expect(log.map((d) => [d.attempt, d.outcome, d.status_code])).toEqual([
      [3, "delivered", 200],
      [2, "failed", 500],
      [1, "failed", 500],
    ]);
    const requests = (await received("flaky")).filter((r) => r.headers["webhook-id"] === "evt_retried");
    expect(requests.map((r) => r.status)).toEqual([500, 500, 200]);
    for (const request of requests) {
      expect(await verifies(request, hook.secret)).toBe(true);
      // Each attempt is signed afresh, so a subscriber may refuse old timestamps.
      expect(Math.abs(Number(request.headers["webhook-timestamp"]) * 1000 - request.receivedAt)).toBeLessThan(5000);
    }
  });

  it("backs off between attempts: 30 s, doubling, at most an hour", () => {
    expect([1, 2, 3, 4, 8, 9, 20].map(retryDelaySeconds)).toEqual([30, 60, 120, 240, 3600, 3600, 3600]);
  });

  it("records a dead letter in the log once the retries are used up", async () => {
    const hook = await subscribe("down?fail=1000", ["variant.updated"]);
    const job: WebhookDeliveryJob = { type: "webhook.delivery", webhookId: hook.id, event: testEvent("evt_given_up") };
    for (const attempts of [1, 2, 3]) expect((await run(deliveryBatch(job, attempts))).retryMessages).toHaveLength(1);
    expect((await run(deliveryBatch(job, 1, "image-events-dlq"))).explicitAcks).toEqual([`${hook.id}-1`]);
    const [last, ...earlier] = (await deliveries(hook.id)).filter((d) => d.event_id === "evt_given_up");
    expect(last).toMatchObject({ outcome: "dead_letter", attempt: 3, error: "gave up after 3 attempts" });
    expect(earlier.map((d) => d.outcome)).toEqual(["failed", "failed", "failed"]);
  });

  it("does not make a healthy subscriber wait for a slow, failing one", async () => {
    const slow = await subscribe("slow?fail=1000&delayMs=3000", ["variant.updated"]);
    const healthy = await subscribe("healthy", ["variant.updated"]);
    const event = testEvent("evt_side_by_side");
    const jobs = [slow, healthy].map((w, i) => ({ id: `side-${i}`, timestamp: new Date(), attempts: 1, body: { type: "webhook.delivery", webhookId: w.id, event } }));
    const batch = createMessageBatch("image-events", jobs);
    const started = Date.now();
    const running = run(batch);
    await eventually(async () => {
      const [answered] = (await received("healthy")).filter((r) => r.headers["webhook-id"] === "evt_side_by_side");
      expect(answered?.answeredAt).toBeDefined();
    }, 2500);
    expect(Date.now() - started).toBeLessThan(2500);
    const result = await running;
    expect(result.explicitAcks).toEqual(["side-1"]);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(["side-0"]);
  });

  it("keeps the delivery log to its newest entries", async () => {
    const hook = await subscribe("busy", ["variant.updated"]);
    const db = database(env.DB);
    const at = new Date().toISOString();
    for (let n = 1; n <= DELIVERY_LOG_LIMIT + 5; n++) {
      await recordDeliveryAttempt(db, { webhookId: hook.id, eventId: `evt_${n}`, eventType: "variant.updated", attempt: 1, outcome: "delivered", statusCode: 200, error: null, startedAt: at, finishedAt: at });
    }
    const log = await deliveries(hook.id);
    expect(log).toHaveLength(DELIVERY_LOG_LIMIT);
    expect(log[0].event_id).toBe(`evt_${DELIVERY_LOG_LIMIT + 5}`);
    expect(log.at(-1)!.event_id).toBe("evt_6");
  });

  it("drops a delivery for a subscription deleted meanwhile", async () => {
    const hook = await subscribe("deleted-meanwhile", ["variant.updated"]);
    await json(await api(`/v1/webhooks/${hook.id}`, { method: "DELETE" }));
    const job: WebhookDeliveryJob = { type: "webhook.delivery", webhookId: hook.id, event: testEvent("evt_orphan") };
    expect((await run(deliveryBatch(job, 1))).explicitAcks).toEqual([`${hook.id}-1`]);
    expect(await received("deleted-meanwhile")).toEqual([]);
  });
});

describe("variant events", () => {
  it("emits variant.updated when a variant is created, changed and deleted", async () => {
    await subscribe("variants", ["variant.updated"]);
    await json(await api("/v1/variants", { method: "POST", ...jsonBody({ id: "evented", options: { fit: "cover", width: 10, height: 10, metadata: "none" } }) }));
    await json(await api("/v1/variants/evented", { method: "PATCH", ...jsonBody({ options: { width: 20 } }) }));
    await json(await api("/v1/variants/evented", { method: "DELETE" }));
    await eventually(async () => {
      const actions = eventsOf(await received("variants")).filter((e) => (e.data as { id: string }).id === "evented").map((e) => (e.data as { action: string }).action);
      expect(actions.sort()).toEqual(["created", "deleted", "updated"]);
    }, 15_000);
  });
});
