import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ingestIncoming } from "../../workers/processor/direct-uploads.ts";
import type { R2EventNotification } from "../../workers/shared/r2-notifications.ts";
import { imageStorageId, incomingKey } from "../../workers/shared/storage.ts";
import type { FixtureName } from "../fixtures/images.ts";
import { api, coordinator, deliver, fixture, json, jsonBody, upload, waitForStatus } from "./helpers.ts";

// JPEG as phones and cameras write it, through both upload paths: what neither decoder reads is refused from the
// header with the coding named, never accepted and then failed; an Ultra HDR file is taken and renders its primary.

const REFUSED: [FixtureName, RegExp][] = [
  ["arithmeticJpeg", /^arithmetic-coded JPEG \(SOF9\) is not supported/],
  ["twelveBitJpeg", /^12-bit JPEG is not supported/],
];

describe("an upload of a JPEG coding neither decoder implements", () => {
  it.each(REFUSED)("multipart: %s is refused with 415 naming the coding, and no image is created", async (name, message) => {
    const id = `refused-${name}`;
    const body = await json(await upload(name, { id }), 415);
    expect(body.errors[0]).toMatchObject({ code: 5415, message: expect.stringMatching(message) });
    await json(await api(`/v1/${id}`), 404);
  });

  it.each(REFUSED)("direct to R2: %s ends the image failed at once with the same reason", async (name, message) => {
    const id = `refused-direct-${name}`;
    await json(await api("/v2/direct_upload", { method: "POST", ...jsonBody({ id }) }));
    const key = incomingKey({ storageId: await imageStorageId(id), life: (await coordinator(id).snapshot()).life });
    const object = await env.BUCKET.put(key, fixture(name));
    const notification: R2EventNotification = {
      account: "test-account",
      action: "PutObject",
      bucket: "images-test",
      object: { key, size: object!.size, eTag: object!.etag },
      eventTime: new Date().toISOString(),
    };
    expect(await ingestIncoming(env, notification)).toBe("failed");
    const { status, error } = await coordinator(id).snapshot();
    expect(status).toBe("failed");
    expect(error).toMatch(new RegExp(`^the uploaded file is not an image we take: ${message.source.slice(1)}`));
    expect(await env.BUCKET.head(key)).toBeNull();
  });
});

describe("an Ultra HDR (MPF) upload", () => {
  it("is taken, reaches ready, and delivers its primary image, not the gain map", async () => {
    const body = await json(await upload("ultraHdrJpeg", { id: "ultra-hdr" }));
    expect(body.result.id).toBe("ultra-hdr");
    expect(await waitForStatus("ultra-hdr", ["ready", "failed"])).toMatchObject({ status: "ready" });
    const { response, header } = await deliver("ultra-hdr/w=320,f=png");
    expect(response.status).toBe(200);
    expect(header).toMatchObject({ width: 320, height: 240 });
  });
});
