import { env, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { ImageCoordinator } from "../../workers/gateway/coordinator.ts";
import { parseStatusEvents } from "../fixtures/events.ts";
import { coordinator, waitForStatus } from "./helpers.ts";

/**
 * Puts a coordinator into a state directly, without enqueueing a job, so the background queue consumer has
 * nothing to race with: only the state machine is exercised here (processor.test.ts covers the consumer).
 */
async function seeded(id: string, patch: Record<string, unknown>) {
  const stub = coordinator(id);
  await runInDurableObject(stub, async (instance: ImageCoordinator) => {
    Object.assign((instance as any).state, { imageId: id, life: "life-1", originalKey: `originals/${id}/life-1`, generation: 1, attempts: 0, ...patch });
  });
  return stub;
}

async function state(stub: DurableObjectStub<ImageCoordinator>) {
  return stub.snapshot();
}

describe("ImageCoordinator", () => {
  it("accepts once: a second accept neither re-queues nor bumps the generation", async () => {
    const stub = coordinator("accept-once");
    expect(await stub.reserveUpload("accept-once", "life-1", "originals/accept-once/life-1")).toBe(true);
    const first = await stub.accept("accept-once", "life-1");
    const second = await stub.accept("accept-once", "life-1");
    expect(first.generation).toBe(1);
    expect(second.generation).toBe(1);
  });

  it("grants the processing lease to one claimant; a duplicate delivery skips", async () => {
    const stub = await seeded("lease-one", { status: "queued" });
    const first = await stub.claim(1);
    const duplicate = await stub.claim(1);
    expect(first).toEqual({ action: "process", attempt: 1, life: "life-1" });
    expect(duplicate).toEqual({ action: "skip", reason: "another processor holds the lease" });
    expect((await state(stub)).status).toBe("processing");
  });

  it("re-enqueues a job whose processor died when the lease expires, and gives up after the last attempt", async () => {
    const stub = await seeded("lease-expiry", { status: "processing", attempts: 1, leaseUntil: Date.now() - 1 });
    await runInDurableObject(stub, (instance: ImageCoordinator) => instance.alarm());
    expect((await state(stub)).generation).toBe(2);
    // The re-enqueued job really reaches the consumer, which ends it (this test image has no D1 record).
    expect(await waitForStatus("lease-expiry", ["failed"])).toMatchObject({ error: "the image record is missing", attempts: 2 });

    const maxAttempts = Number(env.MAX_ATTEMPTS);
    await seeded("lease-expiry", { status: "processing", attempts: maxAttempts, leaseUntil: Date.now() - 1, lastError: "worker exceeded its memory limit" });
    await runInDurableObject(stub, (instance: ImageCoordinator) => instance.alarm());
    const failed = await state(stub);
    expect(failed.status).toBe("failed");
    expect(failed.error).toBe(`processing did not finish after ${maxAttempts} attempts (lease 30 s each); last error: worker exceeded its memory limit`);
  });

  it("does not hand out a job again while its lease is still running", async () => {
    const stub = await seeded("lease-running", { status: "processing", attempts: 1, leaseUntil: Date.now() + 60_000 });
    await runInDurableObject(stub, (instance: ImageCoordinator) => instance.alarm());
    expect(await state(stub)).toMatchObject({ status: "processing", generation: 1 });
  });

  it("keeps terminal states terminal: fail after ready and claim after failure change nothing", async () => {
    const stub = await seeded("terminal", { status: "processing", leaseUntil: Date.now() + 60_000 });
    expect(await stub.complete("life-1")).toBe("ready");
    await stub.fail("late failure");
    expect((await state(stub)).status).toBe("ready");
    expect(await stub.claim(5)).toEqual({ action: "skip", reason: "image is ready" });
  });

  it("streams every state change as Server-Sent Events and ends the stream at a terminal state", async () => {
    const stub = await seeded("events", { status: "queued" });
    const response = await stub.fetch("https://coordinator/events");
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    const reading = response.text();
    await stub.claim(1);
    await stub.fail("cannot decode: bad Huffman table");
    const events = parseStatusEvents(await reading);
    expect(events.map((e) => e.status)).toEqual(["queued", "processing", "failed"]);
    expect(events.at(-1)?.error).toBe("cannot decode: bad Huffman table");
  });

  it("uses the direct-upload token once and can give it back if storing fails", async () => {
    const stub = coordinator("token");
    expect(await stub.createDraft("token", "life-1", "originals/token/life-1", "ab".repeat(32), Date.now() + 60_000)).toBe(true);
    expect(await stub.createDraft("token", "life-2", "originals/token/life-2", "cd".repeat(32), Date.now() + 60_000)).toBe(false);
    expect(await stub.beginDirectUpload("cd".repeat(32))).toEqual({ ok: false, reason: "unknown" });
    expect(await stub.beginDirectUpload("ab".repeat(32))).toEqual({ ok: true, limits: {} });
    expect(await stub.beginDirectUpload("ab".repeat(32))).toEqual({ ok: false, reason: "used" });
    await stub.abortDirectUpload();
    expect(await stub.beginDirectUpload("ab".repeat(32))).toEqual({ ok: true, limits: {} });
  });
});

describe("ImageCoordinator events", () => {
  it("owes a terminal status's event until the queue takes it: a refused send is retried by the alarm, once", async () => {
    const stub = await seeded("event-owed", { status: "processing", leaseUntil: Date.now() + 60_000 });
    const sent: { type: string; data: { id: string; status: string } }[] = [];
    await runInDurableObject(stub, async (instance: ImageCoordinator) => {
      const self = instance as any;
      const bindings = self.env;
      self.env = { ...bindings, EVENTS: { send: async () => Promise.reject(new Error("queue unavailable")) } };
      expect(await instance.complete("life-1")).toBe("ready");
      expect(self.state.eventPending).toBe(true);
      expect(await self.ctx.storage.getAlarm()).toBeGreaterThan(Date.now());

      self.env = { ...bindings, EVENTS: { send: async (event: any) => void sent.push(event) } };
      await instance.alarm();
      expect(self.state.eventPending).toBeUndefined();
      expect(await self.ctx.storage.getAlarm()).toBeNull();
      await instance.alarm();
      self.env = bindings;
    });
    expect(sent.map((e) => [e.type, e.data.id, e.data.status])).toEqual([["image.ready", "event-owed", "ready"]]);
  });
});
