// A browser's upload straight to R2, as `npm start` runs it: the SDK's directUploads.create answers a presigned
// `putURL` (our extension, passed through by the SDK), a plain fetch PUTs the file to it (the local S3 endpoint
// standing in for R2 checks the presignature and sends R2's event notification), the uploader follows its own
// image with the upload URL as its credential, and a loopback subscriber receives the signed image.ready. This
// platform instance is its own, started with ALLOW_LOOPBACK_SOURCES=true for the receiver (as webhooks.test.ts).
import Cloudflare from "cloudflare";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalPlatform, type LocalPlatform } from "../../scripts/local-platform.ts";
import type { StatusEvent } from "../../workers/shared/messages.ts";
import { parseStatusEvents } from "../fixtures/events.ts";
import { startWebhookReceiver, verifiesStandardWebhook, type Received, type WebhookReceiver } from "../fixtures/webhook-receiver.ts";

interface PresignedDirectUpload {
  id: string;
  uploadURL: string;
  putURL: string;
  putHeaders: Record<string, string>;
}

let platform: LocalPlatform;
let receiver: WebhookReceiver;
let secret: string;

beforeAll(async () => {
  platform = await startLocalPlatform({ env: { EXTRA_VARS: "ALLOW_LOOPBACK_SOURCES:true" } });
  receiver = await startWebhookReceiver();
  const subscribed = await fetch(`${platform.origin}/client/v4/accounts/${platform.accountId}/images/v1/webhooks`, {
    method: "POST",
    headers: { authorization: `Bearer ${platform.apiToken}`, "content-type": "application/json" },
    body: JSON.stringify({ url: receiver.url("/hooks"), events: ["image.ready", "image.failed"] }),
  });
  expect(subscribed.status).toBe(200);
  secret = ((await subscribed.json()) as { result: { secret: string } }).result.secret;
}, 180_000);

afterAll(async () => {
  receiver?.close();
  await platform?.stop();
});

const client = () => new Cloudflare({ apiToken: platform.apiToken, baseURL: `${platform.origin}/client/v4`, maxRetries: 0 });

const verifies = (delivery: Received) => verifiesStandardWebhook(secret, delivery);
const webhookFor = (imageId: string) => receiver.waitFor(`a webhook for ${imageId}`, (e) => e.data?.id === imageId);

/** The uploader's own view: `GET <uploadURL>/events`, no API token, until a terminal state. */
async function followAsUploader(uploadURL: string, timeoutMs = 120_000): Promise<StatusEvent[]> {
  const response = await fetch(`${uploadURL}/events`, { signal: AbortSignal.timeout(timeoutMs) });
  expect(response.status).toBe(200);
  return parseStatusEvents(await response.text());
}

describe("direct-to-R2 uploads on the running platform", () => {
  it("takes a JPEG PUT to the SDK's putURL to ready, seen by the uploader and by a webhook subscriber", { timeout: 240_000 }, async () => {
    const created = (await client().images.v2.directUploads.create({ account_id: platform.accountId, id: "straight-to-r2" })) as unknown as PresignedDirectUpload;
    expect(created.putURL).toMatch(new RegExp(`^${platform.origin}/local-r2/images/incoming/straight-to-r2/[0-9a-f]{16}\\?`));
    const photo = await sharp({ create: { width: 800, height: 600, channels: 3, background: "#3a7" } }).jpeg().toBuffer();

    const put = await fetch(created.putURL, { method: "PUT", body: photo, headers: { ...created.putHeaders, "content-type": "image/jpeg" } });
    expect(put.status, await put.clone().text()).toBe(200);
    expect(put.headers.get("etag")).toMatch(/^"[0-9a-f]+"$/);

    const events = await followAsUploader(created.uploadURL);
    expect(events.at(-1)).toMatchObject({ id: "straight-to-r2", status: "ready" });
    const ready = await webhookFor("straight-to-r2");
    expect(JSON.parse(ready.body)).toMatchObject({ type: "image.ready", data: { id: "straight-to-r2", status: "ready" } });
    expect(verifies(ready)).toBe(true);

    const image = await client().images.v1.get("straight-to-r2", { account_id: platform.accountId });
    expect(image).toMatchObject({ id: "straight-to-r2" });
    // A second PUT to the same URL after acceptance is stored by "R2" but never replaces the original.
    const again = await fetch(created.putURL, { method: "PUT", body: Buffer.from("not the photo"), headers: created.putHeaders });
    expect(again.status).toBe(200);
    await new Promise((r) => setTimeout(r, 2000));
    const blob = await fetch(`${platform.origin}/client/v4/accounts/${platform.accountId}/images/v1/straight-to-r2/blob`, {
      headers: { authorization: `Bearer ${platform.apiToken}` },
    });
    expect(Buffer.from(await blob.arrayBuffer()).equals(photo)).toBe(true);
  });

  it("refuses a PUT whose signature does not match, with S3's XML error", async () => {
    const created = (await client().images.v2.directUploads.create({ account_id: platform.accountId })) as unknown as PresignedDirectUpload;
    const tampered = created.putURL.replace(/X-Amz-Signature=[0-9a-f]{4}/, "X-Amz-Signature=0000");
    const refused = await fetch(tampered, { method: "PUT", body: Buffer.from("x") });
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain("<Code>SignatureDoesNotMatch</Code>");
  });

  it("takes a 50 MB photo straight to R2, its size bound by the presignature, into storage and through processing", { timeout: 300_000 }, async () => {
    // 18 MP of noise at quality 100 without chroma subsampling: about 50 MB, five times MAX_UPLOAD_BYTES.
    const photo = await sharp({ create: { width: 5200, height: 3500, channels: 3, background: "#808080", noise: { type: "gaussian", mean: 128, sigma: 50 } } })
      .jpeg({ quality: 100, chromaSubsampling: "4:4:4" })
      .toBuffer();
    expect(photo.length).toBeGreaterThan(45 * 1024 * 1024);
    const answer = await fetch(`${platform.origin}/client/v4/accounts/${platform.accountId}/images/v2/direct_upload`, {
      method: "POST",
      headers: { authorization: `Bearer ${platform.apiToken}`, "content-type": "application/json" },
      body: JSON.stringify({ id: "fifty-megabytes", size: photo.length }),
    });
    expect(answer.status).toBe(200);
    const created = ((await answer.json()) as { result: PresignedDirectUpload }).result;
    expect(created.putHeaders).toEqual({ "content-length": String(photo.length) });

    const put = await fetch(created.putURL, { method: "PUT", body: photo, headers: created.putHeaders });
    expect(put.status, await put.clone().text()).toBe(200);
    const events = await followAsUploader(created.uploadURL, 240_000);
    // The original streams from storage into the JPEG decoder's own memory and is held there once, so its eager
    // set renders within the 96 MB memory budget.
    const last = events.at(-1)!;
    expect(last, JSON.stringify(last)).toMatchObject({ status: "ready" });
    const blob = await fetch(`${platform.origin}/client/v4/accounts/${platform.accountId}/images/v1/fifty-megabytes/blob`, {
      headers: { authorization: `Bearer ${platform.apiToken}` },
    });
    expect(Buffer.from(await blob.arrayBuffer()).equals(photo)).toBe(true);
  });
});
