import { env, runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { ImageCoordinator } from "../../workers/gateway/coordinator.ts";
import { ingestIncoming, type IncomingStep } from "../../workers/processor/direct-uploads.ts";
import type { R2EventNotification } from "../../workers/shared/r2-notifications.ts";
import { imageStorageId, incomingKey, originalKey } from "../../workers/shared/storage.ts";
import { API, AUTH, api, coordinator, fixture, gatewayWith, json, jsonBody, waitForStatus } from "./helpers.ts";

/** A direct upload waiting for its file, with its incoming and original keys. */
async function draft(id: string, fields: Record<string, unknown> = {}) {
  await json(await api("/v2/direct_upload", { method: "POST", ...jsonBody({ id, ...fields }) }));
  const image = { storageId: await imageStorageId(id), life: (await coordinator(id).snapshot()).life };
  return { id, incoming: incomingKey(image), original: originalKey(image) };
}

/** What a client's PUT to the presigned URL does in R2: the object, and R2's notification of it. */
async function putIncoming(key: string, bytes: Uint8Array): Promise<R2EventNotification> {
  const object = await env.BUCKET.put(key, bytes);
  return {
    account: "test-account",
    action: "PutObject",
    bucket: "images-test",
    object: { key, size: object!.size, eTag: object!.etag },
    eventTime: new Date().toISOString(),
  };
}

const bytesOf = async (key: string) => {
  const object = await env.BUCKET.get(key);
  return object && new Uint8Array(await object.arrayBuffer());
};
const record = (id: string) => env.DB.prepare("SELECT status, error, format, width, height, bytes FROM images WHERE id = ?").bind(id).first<any>();

async function failedWith(id: string, incoming: string, notification: R2EventNotification, reason: string) {
  expect(await ingestIncoming(env, notification)).toBe("failed");
  expect(await coordinator(id).snapshot()).toMatchObject({ status: "failed", error: reason });
  expect(await record(id)).toMatchObject({ status: "failed", error: reason });
  expect(await env.BUCKET.head(incoming)).toBeNull();
}

describe("an R2 notification of a direct upload's incoming object", () => {
  it("moves the file to originals/, records it, and the image reaches ready", async () => {
    const { id, incoming, original } = await draft("notified");
    const jpeg = fixture("landscapeJpeg");
    expect(await ingestIncoming(env, await putIncoming(incoming, jpeg))).toBe("accepted");
    expect(await bytesOf(original)).toEqual(jpeg);
    expect(await env.BUCKET.head(incoming)).toBeNull();
    expect(await record(id)).toMatchObject({ format: "jpeg", width: 640, height: 480, bytes: jpeg.length });
    expect(await waitForStatus(id, ["ready", "failed"])).toMatchObject({ status: "ready" });
  });

  it("arrives through the queue from the local S3 endpoint, and the image reaches ready", async () => {
    const R2 = { R2_ACCESS_KEY_ID: "k", R2_SECRET_ACCESS_KEY: "s", R2_S3_ENDPOINT: "https://images.test/local-r2", LOCAL_R2_ENDPOINT: "enabled" };
    const created = await gatewayWith(R2, `${API}/v2/direct_upload`, { method: "POST", headers: { ...AUTH, "content-type": "application/json" }, body: JSON.stringify({ id: "queued-put" }) });
    const { putURL } = (await json(created)).result;
    const png = fixture("alphaPng");
    const put = await gatewayWith(R2, putURL, { method: "PUT", body: png, headers: { "content-length": String(png.length) } });
    expect(put.status).toBe(200);
    expect(await waitForStatus("queued-put", ["ready", "failed"])).toMatchObject({ status: "ready" });
    expect(await record("queued-put")).toMatchObject({ format: "png", bytes: png.length });
  });

  it("does the work once for a duplicate notification: one original, one job", async () => {
    const { id, incoming, original } = await draft("notified-twice");
    const notification = await putIncoming(incoming, fixture("gif"));
    const outcomes = await Promise.all([ingestIncoming(env, notification), ingestIncoming(env, notification)]);
    expect(outcomes.sort()).toEqual(["accepted", "busy"]);
    expect(await ingestIncoming(env, notification)).toBe("skipped");
    expect(await bytesOf(original)).toEqual(fixture("gif"));
    const state = await waitForStatus(id, ["ready", "failed"]);
    expect(state).toMatchObject({ status: "ready", generation: 1, attempts: 1 });
  });

  it("never replaces the accepted original: a late notification and a second PUT are only deleted", async () => {
    const { id, incoming, original } = await draft("put-twice");
    const first = await putIncoming(incoming, fixture("landscapeJpeg"));
    expect(await ingestIncoming(env, first)).toBe("accepted");
    const second = await putIncoming(incoming, fixture("gif"));
    expect(await ingestIncoming(env, second)).toBe("skipped");
    expect(await ingestIncoming(env, first)).toBe("skipped");
    expect(await bytesOf(original)).toEqual(fixture("landscapeJpeg"));
    expect(await env.BUCKET.head(incoming)).toBeNull();
    expect(await record(id)).toMatchObject({ format: "jpeg" });
  });

  it("fails a file over the upload URL's maxBytes, naming it, and removes the object", async () => {
    const { id, incoming } = await draft("put-over-bytes", { maxBytes: 1000 });
    const jpeg = fixture("landscapeJpeg");
    await failedWith(id, incoming, await putIncoming(incoming, jpeg), `the upload is ${jpeg.length} bytes; this upload URL allows at most 1000 bytes (maxBytes)`);
  });

  it("fails an image over the upload URL's maxMegapixels, from its header", async () => {
    const { id, incoming } = await draft("put-over-pixels", { maxMegapixels: 0.1 });
    await failedWith(id, incoming, await putIncoming(incoming, fixture("landscapeJpeg")), "image is 0.3 megapixels; this upload URL allows at most 0.1 (maxMegapixels)");
  });

  it("fails a format the upload URL does not take", async () => {
    const { id, incoming } = await draft("put-wrong-format", { formats: ["png"] });
    await failedWith(id, incoming, await putIncoming(incoming, fixture("gif")), "this upload URL takes png (formats); the file is gif");
  });

  it("fails an image over the account's MAX_PIXELS", async () => {
    const { id, incoming } = await draft("put-over-account-pixels");
    await failedWith(id, incoming, await putIncoming(incoming, fixture("tooManyPixelsPng")), "image is 121.0 megapixels; the limit is 100 megapixels (MAX_PIXELS)");
  });

  it("fails a file over MAX_DIRECT_UPLOAD_BYTES before reading it", async () => {
    const { id, incoming } = await draft("put-over-direct-limit");
    const big = new Uint8Array(100 * 1024 * 1024 + 1);
    big.set(fixture("gif"));
    await failedWith(id, incoming, await putIncoming(incoming, big), "the upload is 104857601 bytes; direct uploads take at most 104857600 bytes (MAX_DIRECT_UPLOAD_BYTES)");
  });

  it("fails bytes that are not an image", async () => {
    const { id, incoming } = await draft("put-text");
    await failedWith(id, incoming, await putIncoming(incoming, fixture("textFile")), "the uploaded file is not an image we take: unsupported image format: expected JPEG, PNG, GIF, WebP, AVIF, HEIC or SVG");
  });

  it("reads further for a header behind large metadata segments", async () => {
    const { id, incoming } = await draft("put-big-header");
    const jpeg = fixture("landscapeJpeg");
    // Five APP15 segments (64 KiB each) between SOI and the rest: the frame header starts past the first 320 KiB.
    const segment = new Uint8Array(65535 + 2);
    segment.set([0xff, 0xef, 0xff, 0xff]);
    const padded = new Uint8Array(jpeg.length + 5 * segment.length);
    padded.set(jpeg.subarray(0, 2));
    for (let i = 0; i < 5; i++) padded.set(segment, 2 + i * segment.length);
    padded.set(jpeg.subarray(2), 2 + 5 * segment.length);
    expect(await ingestIncoming(env, await putIncoming(incoming, padded))).toBe("accepted");
    expect(await record(id)).toMatchObject({ format: "jpeg", width: 640, bytes: padded.length });
  });

  it("finds an image whose storage id is hashed (an id past 900 bytes) by its life", async () => {
    const { id, incoming, original } = await draft(`long/${"é".repeat(200)}`);
    expect(incoming).toMatch(/^incoming\/sha256:[0-9a-f]{64}\//);
    expect(await ingestIncoming(env, await putIncoming(incoming, fixture("gif")))).toBe("accepted");
    expect(await bytesOf(original)).toEqual(fixture("gif"));
    expect(await waitForStatus(id, ["ready", "failed"])).toMatchObject({ status: "ready" });
  });

  it("acks a notification whose object is gone, and the draft keeps waiting for its file", async () => {
    const { id, incoming } = await draft("put-vanished");
    const notification = await putIncoming(incoming, fixture("gif"));
    await env.BUCKET.delete(incoming);
    expect(await ingestIncoming(env, notification)).toBe("missing");
    const state = await coordinator(id).snapshot();
    expect(state).toMatchObject({ status: "draft" });
    expect(state.upload).toMatchObject({ used: false });
    expect(state.upload?.incoming).toBeUndefined();
    expect(await ingestIncoming(env, await putIncoming(incoming, fixture("gif")))).toBe("accepted");
  });

  it("ignores other keys, other buckets and actions that create nothing", async () => {
    const { id, incoming } = await draft("put-ignored");
    const notification = await putIncoming(incoming, fixture("gif"));
    expect(await ingestIncoming(env, { ...notification, action: "DeleteObject" })).toBe("ignored");
    expect(await ingestIncoming(env, { ...notification, bucket: "another-bucket" })).toBe("ignored");
    expect(await ingestIncoming(env, { ...notification, object: { ...notification.object, key: "originals/x/0123456789abcdef" } })).toBe("ignored");
    expect((await coordinator(id).snapshot()).status).toBe("draft");
    expect(await ingestIncoming(env, { ...notification, action: "CompleteMultipartUpload" })).toBe("accepted");
  });

  it("refuses the multipart upload URL once a processor has taken the object", async () => {
    const created = (await json(await api("/v2/direct_upload", { method: "POST", ...jsonBody({ id: "put-then-post" }) }))).result;
    const incoming = incomingKey({ storageId: "put-then-post", life: (await coordinator("put-then-post").snapshot()).life });
    await expect(ingestIncoming(env, await putIncoming(incoming, fixture("gif")), "claimed")).rejects.toThrow();
    const form = new FormData();
    form.append("file", new File([fixture("gif")], "a.gif"));
    const refused = await SELF.fetch(created.uploadURL, { method: "POST", body: form });
    expect((await json(refused, 409)).errors[0].message).toBe("this upload URL has already been used");
  });
});

/** Runs the coordinator's alarm as if the ingest's lease and its grace had run out. */
async function leaseRunsOut(id: string) {
  await runInDurableObject(coordinator(id), async (instance: ImageCoordinator) => {
    const state = (instance as any).state;
    if (state.upload?.incoming) state.upload.incoming.leaseUntil = Date.now() - 10 * 60 * 1000;
    await instance.alarm();
  });
}

describe("a processor that dies while it ingests a direct-to-R2 object", () => {
  for (const step of ["recorded", "incoming-deleted"] as const satisfies IncomingStep[]) {
    it(`after "${step}": the alarm queues the image, and it reaches ready`, async () => {
      const { id, incoming, original } = await draft(`ingest-crash-${step}`);
      await expect(ingestIncoming(env, await putIncoming(incoming, fixture("gif")), step)).rejects.toThrow(`simulated crash after ${step}`);
      expect((await coordinator(id).snapshot()).status).toBe("draft");
      await leaseRunsOut(id);
      expect(await waitForStatus(id, ["ready", "failed"])).toMatchObject({ status: "ready" });
      expect(await env.BUCKET.head(incoming)).toBeNull();
      expect(await bytesOf(original)).toEqual(fixture("gif"));
    });
  }

  for (const step of ["claimed", "original-stored"] as const satisfies IncomingStep[]) {
    it(`after "${step}": with no redelivery, the alarm fails the image and removes what it wrote`, async () => {
      const { id, incoming, original } = await draft(`ingest-crash-${step}`);
      await expect(ingestIncoming(env, await putIncoming(incoming, fixture("gif")), step)).rejects.toThrow(`simulated crash after ${step}`);
      await leaseRunsOut(id);
      const state = await coordinator(id).snapshot();
      expect(state.status).toBe("failed");
      expect(state.error).toContain("its processing stopped before it finished");
      expect(await env.BUCKET.head(incoming)).toBeNull();
      expect(await env.BUCKET.head(original)).toBeNull();
    });
  }

  it(`after "claimed": the notification's redelivery takes over once the lease has run out`, async () => {
    const { id, incoming } = await draft("ingest-crash-redelivered");
    const notification = await putIncoming(incoming, fixture("gif"));
    await expect(ingestIncoming(env, notification, "claimed")).rejects.toThrow("simulated crash after claimed");
    expect(await ingestIncoming(env, notification)).toBe("busy");
    await runInDurableObject(coordinator(id), (instance: ImageCoordinator) => {
      (instance as any).state.upload.incoming.leaseUntil = Date.now() - 1;
    });
    expect(await ingestIncoming(env, notification)).toBe("accepted");
    expect(await waitForStatus(id, ["ready", "failed"])).toMatchObject({ status: "ready" });
  });
});

describe("a direct upload that expires unused", () => {
  it("removes an incoming object whose notification never came", async () => {
    const { id, incoming } = await draft("expired-with-object");
    await env.BUCKET.put(incoming, fixture("gif"));
    await runInDurableObject(coordinator(id), async (instance: ImageCoordinator) => {
      (instance as any).state.upload.expiresAt = Date.now() - 1;
      await instance.alarm();
    });
    expect((await coordinator(id).snapshot()).status).toBe("deleted");
    expect(await env.BUCKET.head(incoming)).toBeNull();
  });
});
