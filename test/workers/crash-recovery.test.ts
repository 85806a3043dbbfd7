import { env, runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { ImageCoordinator } from "../../workers/gateway/coordinator.ts";
import { imageStorageId } from "../../workers/shared/storage.ts";
import { API, AUTH, api, coordinator, fileForm, gatewayWith, json, upload, waitForStatus } from "./helpers.ts";

const count = async () => (await json(await api("/v1/stats"))).result.count.current as number;
const record = (id: string) => env.DB.prepare("SELECT id, life, status FROM images WHERE id = ?").bind(id).first();
const originals = async (id: string) => (await env.BUCKET.list({ prefix: `originals/${await imageStorageId(id)}/` })).objects;

/** Runs the coordinator's alarm as if its deadline had passed (the Worker that would have finished the upload is dead). */
async function deadlinePasses(id: string) {
  await runInDurableObject(coordinator(id), async (instance: ImageCoordinator) => {
    const state = (instance as any).state;
    if (state.reservation) state.reservation.until = Date.now() - 1;
    if (state.upload?.usedAt) state.upload.usedAt = Date.now() - 10 * 60 * 1000;
    await instance.alarm();
  });
}

describe("an API upload whose Worker dies between two steps", () => {
  for (const step of ["reserved", "original-stored"] as const) {
    it(`after "${step}": leaves nothing, and the id can be uploaded again`, async () => {
      const id = `crash-${step}`;
      const before = await count();
      const dying = await SELF.fetch(`${API}/v1`, { method: "POST", body: withId(id), headers: { ...AUTH, "x-fault-after": step } });
      expect(dying.status).toBe(500);
      expect(await record(id)).toBeNull();
      if (step === "original-stored") expect(await originals(id)).toHaveLength(1);

      await deadlinePasses(id);
      expect(await originals(id)).toEqual([]);
      expect(await record(id)).toBeNull();
      expect(await count()).toBe(before);
      expect((await coordinator(id).snapshot()).reservation).toBeUndefined();
      await json(await upload("gif", { id }));
      expect(await waitForStatus(id, ["ready", "failed"])).toMatchObject({ status: "ready" });
    });
  }

  it(`after "recorded": the image is queued by the alarm and reaches ready by itself`, async () => {
    const id = "crash-recorded";
    const dying = await SELF.fetch(`${API}/v1`, { method: "POST", body: withId(id), headers: { ...AUTH, "x-fault-after": "recorded" } });
    expect(dying.status).toBe(500);
    expect(await record(id)).toMatchObject({ status: "queued" });
    await deadlinePasses(id);
    expect(await waitForStatus(id, ["ready", "failed"])).toMatchObject({ status: "ready" });
    expect(await originals(id)).toHaveLength(1);
  });
});

describe("a direct upload whose Worker dies between two steps", () => {
  for (const step of ["token-spent", "original-stored"] as const) {
    it(`after "${step}": the draft is removed with whatever it wrote`, async () => {
      const id = `crash-direct-${step}`;
      const { uploadURL } = (await json(await api("/v2/direct_upload", { method: "POST", body: formOf({ id }) }))).result;
      const before = await count();
      const dying = await SELF.fetch(uploadURL, { method: "POST", body: fileForm("gif"), headers: { "x-fault-after": step } });
      expect(dying.status).toBe(500);
      await deadlinePasses(id);
      expect(await record(id)).toBeNull();
      expect(await originals(id)).toEqual([]);
      expect(await count()).toBe(before - 1);
      expect((await coordinator(id).snapshot()).status).toBe("deleted");
    });
  }

  it(`after "recorded": the alarm queues it and it reaches ready`, async () => {
    const id = "crash-direct-recorded";
    const { uploadURL } = (await json(await api("/v2/direct_upload", { method: "POST", body: formOf({ id }) }))).result;
    const dying = await SELF.fetch(uploadURL, { method: "POST", body: fileForm("gif"), headers: { "x-fault-after": "recorded" } });
    expect(dying.status).toBe(500);
    await deadlinePasses(id);
    expect(await waitForStatus(id, ["ready", "failed"])).toMatchObject({ status: "ready" });
  });
});

describe("queued jobs nobody claims", () => {
  it("are enqueued again within QUEUE_CLAIM_SECONDS, backing off, without spending attempts", async () => {
    await json(await upload("gif", { id: "requeued" }));
    const settled = await waitForStatus("requeued", ["ready"]);
    const stub = coordinator("requeued");
    await runInDurableObject(stub, async (instance: ImageCoordinator) => {
      Object.assign((instance as any).state, { status: "queued", queuedUntil: Date.now() - 1, requeues: 0 });
      await instance.alarm();
    });
    const state = await stub.snapshot();
    expect(state.generation).toBe(settled.generation + 1);
    expect(state.attempts).toBe(settled.attempts);
    expect(state.requeues).toBe(1);
    // The first re-send is at QUEUE_CLAIM_SECONDS (45 s here); the next waits twice as long.
    const wait = (state.queuedUntil! - Date.now()) / 1000;
    expect(wait).toBeGreaterThan(80);
    expect(wait).toBeLessThanOrEqual(90);
    await waitForStatus("requeued", ["ready"]);
  });
});

describe("the image limit", () => {
  it("holds under concurrent uploads: check and insert are one statement", async () => {
    const limit = (await count()) + 3;
    const attempts = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const response = await gatewayWith({ MAX_IMAGES: String(limit) }, `${API}/v1`, { method: "POST", body: withId(`quota-${i}`), headers: AUTH });
        return response.status;
      }),
    );
    expect(attempts.filter((s) => s === 200)).toHaveLength(3);
    expect(attempts.filter((s) => s === 403)).toHaveLength(9);
    expect(await count()).toBe(limit);
  });
});

function withId(id: string): FormData {
  const form = fileForm("landscapeJpeg");
  form.append("id", id);
  return form;
}

function formOf(fields: Record<string, string>): FormData {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  return form;
}
