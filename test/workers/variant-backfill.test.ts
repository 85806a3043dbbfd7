import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { resendOwedWork } from "../../workers/gateway/owed-work.ts";
import processor from "../../workers/processor/index.ts";
import { backfillImage, runBackfillBatch } from "../../workers/processor/variant-backfill.ts";
import { parseConfig } from "../../workers/shared/config.ts";
import { database } from "../../workers/shared/db.ts";
import type { PlatformEvent } from "../../workers/shared/events.ts";
import type { JobMessage, VariantBackfillBatch } from "../../workers/shared/messages.ts";
import { imageStorageId } from "../../workers/shared/storage.ts";
import { findImage } from "../../workers/shared/image-records.ts";
import type { ImageRow, VariantBackfillRow, VariantRow } from "../../workers/shared/schema.ts";
import { latestBackfill } from "../../workers/shared/variant-backfills.ts";
import { API, AUTH, api, eventually, fixture, gatewayWith, json, jsonBody, upload, waitForStatus } from "./helpers.ts";

// BACKFILL_BATCH_SIZE is 3 in test/workers/wrangler.toml, so a handful of images takes several batches.
const BATCH = 3;
const VARIANTS = `${API}/v1/variants`;

const consume = processor.queue as unknown as (batch: MessageBatch, env: unknown, ctx: ExecutionContext) => Promise<void>;

/** A queue producer that keeps what is sent to it (and can refuse the first sends), so a test runs batches itself. */
function capturingQueue<T>(refusals = 0) {
  const sent: T[] = [];
  return {
    sent,
    send: async (body: T) => {
      if (refusals-- > 0) throw new Error("queue unavailable");
      sent.push(body);
    },
    sendBatch: async (batch: { body: T }[]) => {
      if (refusals-- > 0) throw new Error("queue unavailable");
      sent.push(...batch.map((m) => m.body));
    },
  };
}

type Jobs = ReturnType<typeof capturingQueue<JobMessage>>;

/** The cron's work with some bindings replaced. */
const resend = (bindings: Record<string, unknown>, now?: number) => resendOwedWork({ ...env, ...bindings } as typeof env, now);

/** Runs one queue message through the processor's consumer, as the runtime would deliver it. */
async function deliver(body: unknown, { queue = "image-jobs", attempts = 1, ...bindings }: { queue?: string; attempts?: number } & Record<string, unknown> = {}) {
  const batch = createMessageBatch(queue, [{ id: "msg", timestamp: new Date(), attempts, body }]);
  const ctx = createExecutionContext();
  await consume(batch, { ...env, ...bindings }, ctx);
  const result = await getQueueResult(batch, ctx);
  return { acked: result.explicitAcks.includes("msg"), retried: result.retryMessages.length > 0 };
}

/** Runs every batch the captured queue holds, and the ones they enqueue, until the backfill stops asking. */
async function drain(jobs: Jobs, bindings: Record<string, unknown> = {}) {
  while (jobs.sent.length > 0) expect((await deliver(jobs.sent.shift(), { JOBS: jobs, ...bindings })).acked).toBe(true);
}

/** A variant change through the gateway with the job queue captured (and any other binding replaced). */
function changeVariant(method: string, path: string, body: unknown, bindings: Record<string, unknown>) {
  const init = body === undefined ? {} : jsonBody(body);
  return gatewayWith(bindings as Partial<typeof env>, `${VARIANTS}${path}`, { method, ...init, headers: { ...AUTH, "content-type": "application/json" } });
}

async function readyImages(prefix: string, count: number): Promise<ImageRow[]> {
  for (let i = 0; i < count; i++) await json(await upload(i % 2 ? "lossyWebp" : "landscapeJpeg", { id: `${prefix}-${i}` }));
  for (let i = 0; i < count; i++) await waitForStatus(`${prefix}-${i}`, ["ready"]);
  return Promise.all(Array.from({ length: count }, async (_, i) => (await findImage(database(env.DB), `${prefix}-${i}`))!));
}

const backfillOf = async (variant: string): Promise<VariantBackfillRow> => (await latestBackfill(database(env.DB), variant))!;

/** The variant's renditions in R2 for one life of an image. */
async function storedFor(image: { id: string; life: string }, fingerprint?: string): Promise<string[]> {
  const prefix = `renditions/${await imageStorageId(image.id)}/${image.life}/`;
  const listed = await env.BUCKET.list({ prefix });
  return listed.objects.map((o) => o.key.slice(prefix.length)).filter((name) => !fingerprint || name.startsWith(fingerprint)).sort();
}

const options = (width: number) => ({ fit: "scale-down", width, height: width, metadata: "none" });

// Each test starts from no images, renditions or backfills in D1, so its counts are its own.
beforeEach(async () => {
  await env.DB.batch(
    ["DELETE FROM images", "DELETE FROM renditions", "DELETE FROM variant_backfills", "DELETE FROM event_outbox", "DELETE FROM variants WHERE id != 'public'"].map((q) => env.DB.prepare(q)),
  );
});

describe("variant backfill", () => {
  it("renders a new variant for every image already ready, in batches, until complete with total = done", async () => {
    const ready = await readyImages("bf-all", 7);
    const created = (await json(await api("/v1/variants", { method: "POST", ...jsonBody({ id: "bf-all", options: options(40) }) }))).result.variant;
    expect(created.backfill).toMatchObject({ status: "running", total: 7, done: 0, failed: 0 });

    await eventually(async () => expect((await json(await api("/v1/variants/bf-all"))).result.variant.backfill).toMatchObject({ status: "complete", total: 7, done: 7, failed: 0, skipped: 0 }), 30_000);
    const backfill = (await json(await api("/v1/variants/bf-all/backfill"))).result.backfill;
    expect(backfill).toMatchObject({ variant: "bf-all", status: "complete", finishedAt: expect.any(String), error: null });
    expect((await backfillOf("bf-all")).batches).toBe(Math.ceil(7 / BATCH));
    for (const image of ready) {
      expect(await storedFor(image, backfill.fingerprint)).toEqual([`${backfill.fingerprint}.jpeg`, `${backfill.fingerprint}.webp`]);
      const rows = await env.DB.prepare("SELECT format FROM renditions WHERE image_id = ? AND fingerprint = ? AND life = ? ORDER BY format").bind(image.id, backfill.fingerprint, image.life).all();
      expect(rows.results.map((r) => r.format)).toEqual(["jpeg", "webp"]);
    }
    const list = (await json(await api("/v1/variants"))).result.variants;
    expect(list["bf-all"].backfill).toMatchObject({ status: "complete", total: 7, done: 7 });
  });

  it("gives an image processed before placeholders existed its placeholder, and counts each render, with the renditions' rows", async () => {
    const [older, newer] = await readyImages("bf-placeholder", 2);
    await env.DB.prepare("UPDATE images SET thumbhash = NULL, dominant_color = NULL WHERE id = ?").bind(older.id).run();
    const samples = async () => (await env.DB.prepare("SELECT count(*) AS n FROM pipeline_samples WHERE kind = 'render' AND detail = 'backfill'").first<{ n: number }>())!.n;
    const before = await samples();
    await json(await api("/v1/variants", { method: "POST", ...jsonBody({ id: "bf-placeholder", options: options(24) }) }));
    await eventually(async () => expect((await backfillOf("bf-placeholder")).status).toBe("complete"), 30_000);
    const row = async (id: string) => (await findImage(database(env.DB), id))!;
    expect((await row(older.id)).thumbhash).toEqual(expect.any(String));
    expect((await row(older.id)).dominantColor).toMatch(/^#[0-9a-f]{6}$/);
    // An image that has one keeps it as it was.
    expect((await row(newer.id)).thumbhash).toBe(newer.thumbhash);
    expect(await samples()).toBe(before + 2);
  });

  it("stops a running backfill when the variant is redefined, and backfills the new definition instead", async () => {
    const ready = await readyImages("bf-redefine", 5);
    const jobs = capturingQueue<JobMessage>();
    const first = (await json(await changeVariant("POST", "", { id: "bf-redefine", options: options(30) }, { JOBS: jobs }))).result.variant;
    expect(first.backfill).toMatchObject({ status: "running", total: 5 });
    const old = await backfillOf("bf-redefine");
    await deliver(jobs.sent.shift(), { JOBS: jobs });
    const pending = jobs.sent.shift();
    expect(pending).toMatchObject({ type: "variant.backfill", backfillId: old.id, batch: 1 });

    const patched = (await json(await changeVariant("PATCH", "/bf-redefine", { options: { width: 60 } }, { JOBS: jobs }))).result.variant;
    expect(patched.backfill).toMatchObject({ status: "running", total: 5, done: 0 });
    expect(await deliver(pending, { JOBS: jobs })).toEqual({ acked: true, retried: false });
    expect(await env.DB.prepare("SELECT status, done, batches FROM variant_backfills WHERE id = ?").bind(old.id).first()).toEqual({ status: "cancelled", done: BATCH, batches: 1 });

    await drain(jobs);
    const current = await backfillOf("bf-redefine");
    expect(current).toMatchObject({ status: "complete", total: 5, done: 5 });
    for (const image of ready) expect(await storedFor(image, current.fingerprint)).toHaveLength(2);
    // The old definition got no further than its first batch.
    const oldRendered = await Promise.all(ready.map(async (image) => (await storedFor(image, old.fingerprint)).length));
    expect(oldRendered).toEqual([2, 2, 2, 0, 0]);
  });

  it("starts no backfill when a change leaves the output as it was", async () => {
    await readyImages("bf-same", 1);
    const jobs = capturingQueue<JobMessage>();
    await json(await changeVariant("POST", "", { id: "bf-same", options: options(30) }, { JOBS: jobs }));
    const started = await backfillOf("bf-same");
    jobs.sent.length = 0;
    const patched = (await json(await changeVariant("PATCH", "/bf-same", { neverRequireSignedURLs: true }, { JOBS: jobs }))).result.variant;
    expect(patched.neverRequireSignedURLs).toBe(true);
    expect((await backfillOf("bf-same")).id).toBe(started.id);
    expect(jobs.sent).toEqual([]);
  });

  it("cancels the backfill of a deleted variant", async () => {
    const ready = await readyImages("bf-delete", 4);
    const jobs = capturingQueue<JobMessage>();
    await json(await changeVariant("POST", "", { id: "bf-delete", options: options(30) }, { JOBS: jobs }));
    await deliver(jobs.sent.shift(), { JOBS: jobs });
    await json(await api("/v1/variants/bf-delete", { method: "DELETE" }));
    const backfill = await backfillOf("bf-delete");
    expect(backfill).toMatchObject({ status: "cancelled", finishedAt: expect.any(String) });

    await drain(jobs);
    expect(await storedFor(ready[3], backfill.fingerprint)).toEqual([]);
    expect(await backfillOf("bf-delete")).toMatchObject({ status: "cancelled", done: BATCH });
    await json(await api("/v1/variants/bf-delete/backfill"), 404);
  });

  it("leaves out an image deleted before it is reached, and renders a re-uploaded one for its new life only", async () => {
    const ready = await readyImages("bf-lives", 5);
    const jobs = capturingQueue<JobMessage>();
    await json(await changeVariant("POST", "", { id: "bf-lives", options: options(30) }, { JOBS: jobs }));
    await deliver(jobs.sent.shift(), { JOBS: jobs });
    const [, , , deleted, reuploaded] = ready;
    await json(await api(`/v1/${deleted.id}`, { method: "DELETE" }));
    await json(await api(`/v1/${reuploaded.id}`, { method: "DELETE" }));
    await json(await upload("landscapeJpeg", { id: reuploaded.id }));
    const reborn = await waitForStatus(reuploaded.id, ["ready"]);
    expect(reborn.life).not.toBe(reuploaded.life);

    await drain(jobs);
    const backfill = await backfillOf("bf-lives");
    expect(backfill).toMatchObject({ status: "complete", total: 4, done: 4, failed: 0 });
    expect(await storedFor(deleted)).toEqual([]);
    expect(await storedFor(reuploaded)).toEqual([]);
    expect(await storedFor({ id: reuploaded.id, life: reborn.life }, backfill.fingerprint)).toHaveLength(2);
  });

  it("discards what it rendered for an image whose life ended while it rendered it", async () => {
    const [image] = await readyImages("bf-race", 1);
    await json(await api("/v1/variants", { method: "POST", ...jsonBody({ id: "bf-race", options: options(30) }) }));
    await eventually(async () => expect((await backfillOf("bf-race")).status).toBe("complete"), 30_000);
    const variant = (await env.DB.prepare("SELECT * FROM variants WHERE id = 'bf-race'").first()) as unknown as VariantRow;
    // The image is deleted just after its original was read: the renders are stored under a life that is over.
    const bucket = new Proxy(env.BUCKET, {
      get(target, name) {
        if (name !== "get") return (target as any)[name].bind(target);
        return async (key: string, options?: R2GetOptions) => {
          const object = await target.get(key, options);
          if (options?.range) return object; // the header's read
          const bytes = await object!.arrayBuffer();
          await json(await api(`/v1/${image.id}`, { method: "DELETE" }));
          return { size: bytes.byteLength, etag: object!.etag, body: new Blob([bytes]).stream() };
        };
      },
    });
    const outcome = await backfillImage({ ...env, BUCKET: bucket }, parseConfig(env, false), { ...variant, width: 31 }, image, new Set());
    expect(outcome).toBe("skipped");
    expect(await storedFor(image)).toEqual([]);
    expect((await env.DB.prepare("SELECT count(*) AS n FROM renditions WHERE image_id = ?").bind(image.id).first())!.n).toBe(0);
  });

  it("applies a redelivered batch once: no double count, no second render, and the next batch is sent once", async () => {
    await readyImages("bf-redeliver", 4);
    const jobs = capturingQueue<JobMessage>();
    await json(await changeVariant("POST", "", { id: "bf-redeliver", options: options(30) }, { JOBS: jobs }));
    const batch0 = jobs.sent.shift();

    // The batch is applied, but the message of the next one is refused: the queue retries it.
    const refusing = capturingQueue<JobMessage>(1);
    expect(await deliver(batch0, { JOBS: refusing })).toEqual({ acked: false, retried: true });
    expect(await backfillOf("bf-redeliver")).toMatchObject({ done: BATCH, batches: 1, nextQueued: false, lastError: "queue unavailable" });

    let puts = 0;
    const counting = new Proxy(env.BUCKET, {
      get: (target, name) => (name === "put" ? (...args: unknown[]) => (puts++, (target.put as any)(...args)) : (target as any)[name].bind(target)),
    });
    expect(await deliver(batch0, { JOBS: jobs, BUCKET: counting, attempts: 2 })).toEqual({ acked: true, retried: false });
    expect(jobs.sent).toMatchObject([{ type: "variant.backfill", backfillId: (await backfillOf("bf-redeliver")).id, batch: 1 }]);
    expect(await deliver(batch0, { JOBS: jobs, BUCKET: counting, attempts: 3 })).toEqual({ acked: true, retried: false });
    expect(jobs.sent).toHaveLength(1);
    expect(puts).toBe(0);
    expect(await backfillOf("bf-redeliver")).toMatchObject({ done: BATCH, batches: 1, nextQueued: true });

    // Two copies of the next batch at once: one applies.
    const batch1 = jobs.sent.shift();
    await Promise.all([deliver(batch1, { JOBS: jobs }), deliver(batch1, { JOBS: jobs })]);
    expect(await backfillOf("bf-redeliver")).toMatchObject({ status: "complete", total: 4, done: 4, batches: 2 });
  });

  it("ends a batch early once its time budget is spent, and goes on from there in the next", async () => {
    await readyImages("bf-budget", 3);
    const jobs = capturingQueue<JobMessage>();
    await json(await changeVariant("POST", "", { id: "bf-budget", options: options(30) }, { JOBS: jobs }));
    const batch0 = jobs.sent.shift() as VariantBackfillBatch;
    expect(await runBackfillBatch({ ...env, JOBS: jobs } as unknown as typeof env, batch0, 0)).toBe("applied");
    expect(await backfillOf("bf-budget")).toMatchObject({ status: "running", done: 1, batches: 1, cursorId: "bf-budget-0" });
    await drain(jobs);
    expect(await backfillOf("bf-budget")).toMatchObject({ status: "complete", total: 3, done: 3 });
  });

  it("counts an image that no longer renders as failed and goes on", async () => {
    const ready = await readyImages("bf-broken", 4);
    const sid = await imageStorageId(ready[1].id);
    await env.BUCKET.put(`originals/${sid}/${ready[1].life}`, fixture("corruptJpeg"));
    const jobs = capturingQueue<JobMessage>();
    await json(await changeVariant("POST", "", { id: "bf-broken", options: options(30) }, { JOBS: jobs }));
    await drain(jobs);
    const backfill = await backfillOf("bf-broken");
    expect(backfill).toMatchObject({ status: "complete", total: 4, done: 3, failed: 1 });
    expect(await storedFor(ready[1], backfill.fingerprint)).toEqual([]);
    expect(await storedFor(ready[2], backfill.fingerprint)).toHaveLength(2);
  });

  it("retries a batch that crashes and, once dead-lettered, ends the backfill failed with the error", async () => {
    await readyImages("bf-crash", 1);
    const jobs = capturingQueue<JobMessage>();
    await json(await changeVariant("POST", "", { id: "bf-crash", options: options(30) }, { JOBS: jobs }));
    const batch0 = jobs.sent.shift() as VariantBackfillBatch;
    const outage = { get: async () => Promise.reject(new Error("R2 is unavailable")) };
    expect(await deliver(batch0, { BUCKET: outage })).toEqual({ acked: false, retried: true });
    expect(await backfillOf("bf-crash")).toMatchObject({ status: "running", done: 0, lastError: "R2 is unavailable" });
    expect((await json(await api("/v1/variants/bf-crash/backfill"))).result.backfill).toMatchObject({ status: "running", error: "R2 is unavailable" });

    expect(await deliver(batch0, { queue: "image-jobs-dlq" })).toEqual({ acked: true, retried: false });
    const failed = (await json(await api("/v1/variants/bf-crash/backfill"))).result.backfill;
    expect(failed).toMatchObject({ status: "failed", error: "batch 0 failed on every attempt: R2 is unavailable", finishedAt: expect.any(String) });
    expect((await json(await api("/v1/variants/bf-crash"))).result.variant.backfill.status).toBe("failed");
  });

  it("resumes from the cron a backfill whose first message was never sent", async () => {
    await readyImages("bf-stalled", 1);
    await json(await changeVariant("POST", "", { id: "bf-stalled", options: options(30) }, { JOBS: capturingQueue<JobMessage>(1) }));
    const stalled = await backfillOf("bf-stalled");
    const jobs = capturingQueue<JobMessage>();
    expect((await resend({ JOBS: jobs })).backfills).toBe(0);
    expect((await resend({ JOBS: jobs }, Date.now() + 16 * 60 * 1000)).backfills).toBe(1);
    expect(jobs.sent).toEqual([{ type: "variant.backfill", backfillId: stalled.id, batch: 0 }]);
    await drain(jobs);
    expect(await backfillOf("bf-stalled")).toMatchObject({ status: "complete", done: 1 });
  });

  it("keeps the SDK's variant shape, and shows no backfill for a variant that never had one", async () => {
    const pub = (await json(await api("/v1/variants/public"))).result.variant;
    expect(Object.keys(pub).sort()).toEqual(["id", "neverRequireSignedURLs", "options"]);
    expect((await json(await api("/v1/variants/public/backfill"), 404)).errors[0].message).toContain('variant "public" has not been backfilled');
    await json(await api("/v1/variants/no-such/backfill"), 404);
  });

  it("starts nothing and owes nothing for a create refused as a conflict", async () => {
    const jobs = capturingQueue<JobMessage>();
    await json(await changeVariant("POST", "", { id: "bf-twice", options: options(30) }, { JOBS: jobs }));
    await json(await changeVariant("POST", "", { id: "bf-twice", options: options(50) }, { JOBS: jobs }), 409);
    const rows = await env.DB.prepare("SELECT status, total FROM variant_backfills WHERE variant = 'bf-twice'").all();
    expect(rows.results).toEqual([{ status: "running", total: 0 }]);
    expect(jobs.sent).toHaveLength(1);
    expect((await env.DB.prepare("SELECT count(*) AS n FROM event_outbox").first())!.n).toBe(0);
  });
});

describe("variant.updated is owed until sent", () => {
  const outbox = async () => (await env.DB.prepare("SELECT id, event FROM event_outbox").all<{ id: string; event: string }>()).results;

  it("is sent by the backfill's first batch when the queue refused it at the change", async () => {
    await readyImages("ev-first", 1);
    const jobs = capturingQueue<JobMessage>();
    await json(await changeVariant("POST", "", { id: "ev-first", options: options(30) }, { JOBS: jobs, EVENTS: capturingQueue<PlatformEvent>(1) }));
    const [owed] = await outbox();
    expect(JSON.parse(owed.event)).toMatchObject({ type: "variant.updated", data: { id: "ev-first", action: "created", backfill: { status: "running", total: 1 } } });

    const events = capturingQueue<PlatformEvent>();
    await deliver(jobs.sent.shift(), { JOBS: jobs, EVENTS: events });
    expect(events.sent.map((e) => e.id)).toEqual([owed.id]);
    expect(await outbox()).toEqual([]);
  });

  it("is sent at once when the queue takes it, and never twice", async () => {
    const events = capturingQueue<PlatformEvent>();
    const jobs = capturingQueue<JobMessage>();
    await json(await changeVariant("POST", "", { id: "ev-direct", options: options(30) }, { JOBS: jobs, EVENTS: events }));
    expect(events.sent.map((e) => e.data)).toEqual([{ id: "ev-direct", action: "created", backfill: { status: "running", total: 0 } }]);
    expect(await outbox()).toEqual([]);
    await drain(jobs, { EVENTS: events });
    expect(events.sent).toHaveLength(1);
  });

  it("is sent by the cron for a deleted variant, which has no backfill to carry it", async () => {
    // Created with its backfill's batch held back, so no batch sends the owed event before the cron does.
    await json(await changeVariant("POST", "", { id: "ev-deleted", options: options(30) }, { JOBS: capturingQueue<JobMessage>() }));
    await json(await changeVariant("DELETE", "/ev-deleted", undefined, { EVENTS: capturingQueue<PlatformEvent>(1) }));
    const [owed] = await outbox();
    expect(JSON.parse(owed.event).data).toEqual({ id: "ev-deleted", action: "deleted" });
    const events = capturingQueue<PlatformEvent>();
    expect((await resend({ EVENTS: events })).events).toBe(1);
    expect(events.sent.map((e) => e.id)).toEqual([owed.id]);
    expect(await outbox()).toEqual([]);
  });
});
