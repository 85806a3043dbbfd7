import { createExecutionContext, createMessageBatch, env, getQueueResult, runInDurableObject } from "cloudflare:test";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import type { ImageCoordinator } from "../../workers/gateway/coordinator.ts";
import { database } from "../../workers/shared/db.ts";
import { images, renditions } from "../../workers/shared/schema.ts";
import processor from "../../workers/processor/index.ts";
import { processJob } from "../../workers/processor/jobs.ts";
import { probeImage } from "../../wasm/src/probe.ts";
import { api, coordinator, json, recordingD1, upload, waitForStatus } from "./helpers.ts";

/** The consumer as the runtime calls it (the handler ignores its execution context, the test helpers need one). */
const consume = processor.queue as unknown as (batch: MessageBatch, env: unknown, ctx: ExecutionContext) => Promise<void>;

async function renditionRows(imageId: string) {
  return database(env.DB).select().from(renditions).where(eq(renditions.imageId, imageId));
}

describe("processor", () => {
  it("renders every named variant eagerly (WebP and JPEG) into R2 and records them in D1", async () => {
    await json(await upload("landscapeJpeg", { id: "eager" }));
    await waitForStatus("eager", ["ready"]);
    const rows = await renditionRows("eager");
    expect(rows.map((r) => `${r.variant}:${r.format}`).sort()).toEqual(["public:jpeg", "public:webp"]);
    for (const row of rows) {
      const object = await env.BUCKET.get(row.r2Key);
      const header = probeImage(new Uint8Array(await object!.arrayBuffer()));
      // public is scale-down 1366×768: a 640×480 original is not enlarged.
      expect(header).toMatchObject({ format: row.format, width: 640, height: 480 });
    }
    expect((await json(await api("/v1/eager"))).result.status).toBe("ready");
  });

  it("produces PNG rather than JPEG for images with alpha", async () => {
    await json(await upload("alphaPng", { id: "eager-alpha" }));
    await waitForStatus("eager-alpha", ["ready"]);
    expect((await renditionRows("eager-alpha")).map((r) => r.format).sort()).toEqual(["png", "webp"]);
  });

  it("writes a job's outputs to D1 in one round trip: its rendition rows, placeholder and stats sample in one batch", async () => {
    await json(await upload("landscapeJpeg", { id: "one-batch" }));
    const settled = await waitForStatus("one-batch", ["ready"]);
    const db = database(env.DB);
    const samples = async () => (await env.DB.prepare("SELECT count(*) AS n FROM pipeline_samples WHERE kind = 'render' AND detail = 'job'").first<{ n: number }>())!.n;
    await db.delete(renditions).where(eq(renditions.imageId, "one-batch"));
    await db.update(images).set({ thumbhash: null }).where(eq(images.id, "one-batch"));
    const before = await samples();
    // The job runs again (the coordinator put back to queued), with a D1 that records how it is called.
    await runInDurableObject(coordinator("one-batch") as unknown as DurableObjectStub<ImageCoordinator>, async (instance: ImageCoordinator) => {
      Object.assign((instance as any).state, { status: "queued", leaseUntil: undefined });
    });
    const { d1: counted, calls } = recordingD1(env.DB);
    const job = { type: "process" as const, imageId: "one-batch", life: settled.life, originalKey: settled.originalKey!, generation: settled.generation };
    expect(await processJob({ ...env, DB: counted }, job)).toBe("ready");
    // Reads of the record and the variants, then the one batch: 2 rendition rows, the placeholder, the sample.
    expect(calls).toEqual(["select", "select", "batch of 4"]);
    expect((await renditionRows("one-batch")).map((r) => `${r.variant}:${r.format}`).sort()).toEqual(["public:jpeg", "public:webp"]);
    expect((await db.select().from(images).where(eq(images.id, "one-batch")))[0].thumbhash).toEqual(expect.any(String));
    expect(await samples()).toBe(before + 1);
  });

  it("does no duplicate work for a duplicate delivery of a finished job", async () => {
    await json(await upload("gif", { id: "dup" }));
    const done = await waitForStatus("dup", ["ready"]);
    const before = await renditionRows("dup");
    const outcome = await processJob(env, { type: "process", imageId: "dup", life: done.life, originalKey: done.originalKey!, generation: done.generation });
    expect(outcome).toBe("skipped");
    expect(await renditionRows("dup")).toEqual(before);
  });

  it("ends a file that passes the header check but will not decode as failed with its reason, keeping the original", async () => {
    await json(await upload("corruptJpeg", { id: "broken" }));
    const state = await waitForStatus("broken", ["failed", "ready"]);
    expect(state.status).toBe("failed");
    const image = (await json(await api("/v1/broken"))).result;
    expect(image.status).toBe("failed");
    expect(image.error).toEqual(expect.any(String));
    expect(image.error.length).toBeGreaterThan(5);
    expect((await api("/v1/broken/blob")).status).toBe(200);
  });

  it("never leaves a damaged file in a non-terminal state: it ends ready (what decodes) or failed with a reason", async () => {
    const damaged = ["truncatedPng", "truncatedJpeg", "truncatedWebp", "truncatedAvif", "garbledGif"] as const;
    const outcomes: Record<string, string> = {};
    for (const name of damaged) {
      const response = await upload(name, { id: `damaged-${name}` });
      if (response.status !== 200) {
        // Refused at upload: only with a client error and a reason, never a 5xx.
        const body = await json(response, response.status);
        expect(response.status, name).toBeLessThan(500);
        outcomes[name] = `refused ${response.status}: ${body.errors[0].message}`;
        continue;
      }
      const state = await waitForStatus(`damaged-${name}`, ["ready", "failed"]);
      if (state.status === "failed") expect(state.error, name).toMatch(/\w{4,}/);
      outcomes[name] = state.status;
    }
    // At least the truncated-to-nothing files cannot be rendered.
    expect(Object.values(outcomes).some((o) => o === "failed" || o.startsWith("refused")), JSON.stringify(outcomes)).toBe(true);
  });

  it("retries a transient failure, then records the dead-lettered job as failed with the last error", async () => {
    await json(await upload("lossyWebp", { id: "flaky" }));
    const settled = await waitForStatus("flaky", ["ready"]);
    // Take the image back to queued, and run the consumer with a storage outage.
    const stub = coordinator("flaky");
    await runInDurableObject(stub, async (instance: ImageCoordinator) => {
      Object.assign((instance as any).state, { status: "queued", leaseUntil: undefined });
    });
    const outage = { ...env, BUCKET: { get: async () => Promise.reject(new Error("R2 is unavailable")) } } as unknown as typeof env;
    const job = { type: "process", imageId: "flaky", life: settled.life, originalKey: settled.originalKey!, generation: settled.generation };
    const batch = createMessageBatch("image-jobs", [{ id: "m1", timestamp: new Date(), attempts: 1, body: job }]);
    const ctx = createExecutionContext();
    await consume(batch, outage, ctx);
    const result = await getQueueResult(batch, ctx);
    expect(result.retryMessages.map((m) => m.msgId)).toEqual(["m1"]);
    expect(result.explicitAcks).toEqual([]);
    expect(await stub.snapshot()).toMatchObject({ status: "queued", lastError: "R2 is unavailable" });

    const deadLetters = createMessageBatch("image-jobs-dlq", [{ id: "m1", timestamp: new Date(), attempts: 1, body: job }]);
    const dlqCtx = createExecutionContext();
    await consume(deadLetters, env, dlqCtx);
    expect((await getQueueResult(deadLetters, dlqCtx)).explicitAcks).toEqual(["m1"]);
    const failed = (await json(await api("/v1/flaky"))).result;
    expect(failed.status).toBe("failed");
    expect(failed.error).toMatch(/^processing failed after \d+ attempts: R2 is unavailable$/);
  });

  it("acknowledges a malformed message instead of retrying it forever", async () => {
    const batch = createMessageBatch("image-jobs", [{ id: "junk", timestamp: new Date(), attempts: 1, body: { hello: "world" } }]);
    const ctx = createExecutionContext();
    await consume(batch, env, ctx);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(["junk"]);
  });
});
