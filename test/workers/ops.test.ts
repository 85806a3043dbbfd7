import { createMessageBatch, createExecutionContext, env, getQueueResult } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import processor from "../../workers/processor/index.ts";
import { parseConfig } from "../../workers/shared/config.ts";
import { database } from "../../workers/shared/db.ts";
import { images } from "../../workers/shared/schema.ts";
import { API, AUTH, DELIVERY, api, captureLogLines, fileForm, gatewayWith, json, upload, waitForStatus } from "./helpers.ts";

const consume = processor.queue as unknown as (batch: MessageBatch, env: unknown, ctx: ExecutionContext) => Promise<void>;

/** The JSON log lines written while a test runs (console.log, warn and error). */
const lines = captureLogLines();

const linesOf = (event: string, requestId?: string) => lines.filter((l) => l.event === event && (requestId === undefined || l.requestId === requestId));

/** An Analytics Engine dataset that keeps what is written to it. */
function recordingDataset() {
  const points: AnalyticsEngineDataPoint[] = [];
  return { points, METRICS: { writeDataPoint: (p?: AnalyticsEngineDataPoint) => p && points.push(p) } as AnalyticsEngineDataset };
}

async function stats() {
  return (await json(await api("/v1/stats"))).result;
}

describe("request ids and structured logs", () => {
  it("answers every request with an x-request-id, the cf-ray when Cloudflare sent one", async () => {
    const generated = await api("/v1/stats");
    expect(generated.headers.get("x-request-id")).toMatch(/^[0-9a-f]{16}$/);
    const ray = await api("/v1/stats", { headers: { "cf-ray": "8f2c1a9b3d4e5f60-AMS" } });
    expect(ray.headers.get("x-request-id")).toBe("8f2c1a9b3d4e5f60-AMS");
    const bogus = await api("/v1/stats", { headers: { "cf-ray": "not a ray id" } });
    expect(bogus.headers.get("x-request-id")).toMatch(/^[0-9a-f]{16}$/);
  });

  it("writes one line per API request with the route pattern, status, time and the error code of a refusal", async () => {
    const response = await api("/v1/no-such-image");
    expect(response.status).toBe(404);
    const [line] = linesOf("api.request", response.headers.get("x-request-id")!);
    expect(line).toMatchObject({
      method: "GET",
      route: "/client/v4/accounts/:account_id/images/v1/:image_id{.+}",
      status: 404,
      code: 5404,
      imageId: "no-such-image",
    });
    expect(typeof line.ms).toBe("number");
  });

  it("follows one upload by its request id from the API through the queue, the render and every transition", async () => {
    const response = await upload("landscapeJpeg", { id: "traced" });
    const requestId = response.headers.get("x-request-id")!;
    await json(response);
    await waitForStatus("traced", ["ready"]);
    const [request] = linesOf("api.request", requestId);
    expect(request).toMatchObject({ route: "/client/v4/accounts/:account_id/images/v1", status: 200, imageId: "traced" });
    expect(Object.keys(request.phases).sort()).toEqual(["enqueue", "probe", "store"]);
    await vi.waitFor(() => expect(linesOf("job", requestId)).toHaveLength(1));
    const [job] = linesOf("job", requestId);
    expect(job).toMatchObject({ imageId: "traced", outcome: "ready", attempts: 1 });
    expect(job.queueWaitMs).toBeGreaterThanOrEqual(0);
    expect(Object.keys(job.phases)).toEqual(expect.arrayContaining(["fetchOriginal", "render", "store"]));
    const [render] = linesOf("render", requestId);
    expect(render).toMatchObject({ trigger: "job", outcome: "ok", imageId: "traced", outputs: 2, scale: expect.any(Number), decoder: expect.any(String) });
    expect(render.peakMb).toBeGreaterThan(0);
    // The clock catches up after the CPU-bound render (a timer turn), so the render is not measured as 0 ms.
    expect(render.phases.render).toBeGreaterThan(0);
    expect(linesOf("transition", requestId).map((t) => `${t.from}→${t.to}`)).toEqual(["none→queued", "queued→processing", "processing→ready"]);
  });

  it("carries the request id in the job message and in the image's event", async () => {
    const response = await upload("gif", { id: "carried" });
    const requestId = response.headers.get("x-request-id")!;
    await json(response);
    const state = await waitForStatus("carried", ["ready"]);
    expect(state.requestId).toBe(requestId);
  });

  it("logs deliveries at DELIVERY_LOG_SAMPLE_RATE, and failed ones always", async () => {
    await json(await upload("landscapeJpeg", { id: "sampled" }));
    await waitForStatus("sampled", ["ready"]);
    await gatewayWith({ DELIVERY_LOG_SAMPLE_RATE: "0" }, `${DELIVERY}/sampled/public`);
    expect(linesOf("delivery")).toHaveLength(0);
    await gatewayWith({ DELIVERY_LOG_SAMPLE_RATE: "1" }, `${DELIVERY}/sampled/public`, { headers: { accept: "image/webp" } });
    expect(linesOf("delivery")).toMatchObject([{ status: 200, format: "webp", imageId: "sampled", route: "/cdn-cgi/imagedelivery/:account_hash/*" }]);
    await gatewayWith({ DELIVERY_LOG_SAMPLE_RATE: "0" }, `${DELIVERY}/sampled/no-such-variant`);
    expect(linesOf("delivery").at(-1)).toMatchObject({ status: 404, cache: "ERROR", code: 5404 });
  });

  it("refuses a DELIVERY_LOG_SAMPLE_RATE that is not a share", async () => {
    for (const rate of ["5%", "1.5", "-0.1"]) {
      expect(() => parseConfig({ ...env, DELIVERY_LOG_SAMPLE_RATE: rate })).toThrow(/DELIVERY_LOG_SAMPLE_RATE must be a number from 0 to 1/);
    }
    expect(parseConfig({ ...env, DELIVERY_LOG_SAMPLE_RATE: "0.25" }).delivery.logSampleRate).toBe(0.25);
    expect(parseConfig({ ...env, DELIVERY_LOG_SAMPLE_RATE: undefined }).delivery.logSampleRate).toBe(0.01);
  });
});

describe("metrics (Analytics Engine data points)", () => {
  it("writes a delivery point with cache result, format, bytes and latency", async () => {
    await json(await upload("landscapeJpeg", { id: "metered" }));
    await waitForStatus("metered", ["ready"]);
    const { points, METRICS } = recordingDataset();
    const client = { "cf-connecting-ip": "198.51.100.7", accept: "image/webp" };
    const first = await gatewayWith({ METRICS }, `${DELIVERY}/metered/public`, { headers: client });
    const second = await gatewayWith({ METRICS }, `${DELIVERY}/metered/public`, { headers: client });
    expect([first.headers.get("x-image-source"), second.headers.get("x-image-source")]).toEqual(["STORED", "HIT"]);
    expect(points.map((p) => [p.indexes, p.blobs])).toEqual([
      [["delivery"], ["STORED", "webp", "200"]],
      [["delivery"], ["HIT", "webp", "200"]],
    ]);
    const [bytes, ms, status] = points[1].doubles!;
    expect(bytes).toBe(Number(second.headers.get("content-length")));
    expect(ms).toBeGreaterThanOrEqual(0);
    expect(status).toBe(200);
  });

  it("writes an upload point, accepted or refused with its error code", async () => {
    const { points, METRICS } = recordingDataset();
    await gatewayWith({ METRICS }, `${API}/v1`, { method: "POST", headers: AUTH, body: fileForm("landscapeJpeg") });
    const form = new FormData();
    form.append("file", new File([new Uint8Array([1, 2, 3, 4])], "junk.bin"));
    await gatewayWith({ METRICS }, `${API}/v1`, { method: "POST", headers: AUTH, body: form });
    expect(points.map((p) => [p.indexes, p.blobs])).toEqual([
      [["upload"], ["api", "jpeg", "accepted"]],
      [["upload"], ["api", "", "5415"]],
    ]);
    expect(points[0].doubles![0]).toBeGreaterThan(0);
  });

  it("writes job and render points from the processor", async () => {
    await json(await upload("gif", { id: "job-metrics" }));
    const state = await waitForStatus("job-metrics", ["queued", "processing", "ready"]);
    // Consume a copy of the job with a recording dataset (the real one may have run already: then it skips).
    const { points, METRICS } = recordingDataset();
    const batch = createMessageBatch("image-jobs", [
      { id: "m1", timestamp: new Date(Date.now() - 1500), attempts: 1, body: { type: "process", imageId: "job-metrics", life: state.life, originalKey: state.originalKey!, generation: state.generation } },
    ]);
    const ctx = createExecutionContext();
    await consume(batch, { ...env, METRICS }, ctx);
    await getQueueResult(batch, ctx);
    const job = points.find((p) => p.indexes![0] === "job")!;
    expect(job.blobs![0]).toBe("process");
    expect(["ready", "skipped"]).toContain(job.blobs![1]);
    const [attempts, queueWaitMs] = job.doubles!;
    expect(attempts).toBe(1);
    expect(queueWaitMs).toBeGreaterThanOrEqual(1500);
    if (job.blobs![1] === "ready") expect(points.find((p) => p.indexes![0] === "render")!.blobs![0]).toBe("job");
  });
});

describe("stats: live pipeline state", () => {
  it("keeps Cloudflare's count exactly and adds the pipeline figures", async () => {
    const result = await stats();
    expect(Object.keys(result.count).sort()).toEqual(["allowed", "current"]);
    expect(Object.keys(result.pipeline).sort()).toEqual(["byStatus", "lastHour", "oldestInFlightSeconds"]);
  });

  it("counts a ready image, its render and the render percentiles", async () => {
    const before = await stats();
    await json(await upload("landscapeJpeg", { id: "stats-ready" }));
    await waitForStatus("stats-ready", ["ready"]);
    await vi.waitFor(async () => {
      const after = await stats();
      expect(after.pipeline.byStatus.ready).toBe(before.pipeline.byStatus.ready + 1);
      expect(after.pipeline.lastHour.ready).toBe(before.pipeline.lastHour.ready + 1);
      expect(after.pipeline.lastHour.renders).toBe(before.pipeline.lastHour.renders + 1);
      expect(after.pipeline.lastHour.renderMsP50).toBeGreaterThan(0);
      expect(after.pipeline.lastHour.renderMsP99).toBeGreaterThanOrEqual(after.pipeline.lastHour.renderMsP50);
    });
  });

  it("counts a failed image in the last hour", async () => {
    const before = await stats();
    await json(await upload("corruptJpeg", { id: "stats-failed" }));
    await waitForStatus("stats-failed", ["failed"]);
    const after = await stats();
    expect(after.pipeline.byStatus.failed).toBe(before.pipeline.byStatus.failed + 1);
    expect(after.pipeline.lastHour.failed).toBe(before.pipeline.lastHour.failed + 1);
  });

  it("counts a dead-lettered job", async () => {
    await json(await upload("gif", { id: "stats-dead" }));
    const state = await waitForStatus("stats-dead", ["ready"]);
    const before = await stats();
    const batch = createMessageBatch("image-jobs-dlq", [
      { id: "d1", timestamp: new Date(), attempts: 1, body: { type: "process", imageId: "stats-dead", life: state.life, originalKey: state.originalKey!, generation: state.generation } },
    ]);
    const ctx = createExecutionContext();
    await consume(batch, env, ctx);
    await getQueueResult(batch, ctx);
    expect((await stats()).pipeline.lastHour.deadLetters).toBe(before.pipeline.lastHour.deadLetters + 1);
    expect(linesOf("job.dead_letter")).toMatchObject([{ imageId: "stats-dead", outcome: "dead_letter" }]);
  });

  it("reports the age of the oldest image still queued or processing", async () => {
    expect((await stats()).pipeline.oldestInFlightSeconds).toBe(0);
    const uploaded = new Date(Date.now() - 600_000).toISOString();
    await database(env.DB).insert(images).values({ id: "stuck", life: "l", uploaded, status: "queued" });
    const { oldestInFlightSeconds } = (await stats()).pipeline;
    expect(oldestInFlightSeconds).toBeGreaterThanOrEqual(600);
    expect(oldestInFlightSeconds).toBeLessThan(660);
  });
});
