// Another service learns of an image's changes: a loopback receiver subscribed through the API gets image.ready
// and image.deleted from the real `npm start` platform (queue, processor, coordinator), signed per Standard
// Webhooks and verified here with node:crypto, independently of the platform's signer. This platform instance is
// its own, started with ALLOW_LOOPBACK_SOURCES=true: the shared e2e one keeps loopback refused, as npm start does.
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalPlatform, type LocalPlatform } from "../../scripts/local-platform.ts";
import { startWebhookReceiver, verifiesStandardWebhook as verifies, type WebhookReceiver } from "../fixtures/webhook-receiver.ts";

let platform: LocalPlatform;
let receiver: WebhookReceiver;

beforeAll(async () => {
  platform = await startLocalPlatform({ env: { EXTRA_VARS: "ALLOW_LOOPBACK_SOURCES:true" } });
  receiver = await startWebhookReceiver();
}, 180_000);

afterAll(async () => {
  receiver?.close();
  await platform?.stop();
});

const api = () => `${platform.origin}/client/v4/accounts/${platform.accountId}/images`;
const auth = () => ({ authorization: `Bearer ${platform.apiToken}` });
const eventOf = (type: string, imageId: string) => receiver.waitFor(`${type} for ${imageId}`, (e) => e.type === type && e.data?.id === imageId);

describe("webhooks from the running platform", () => {
  it("delivers signed image.ready and image.deleted events to a subscriber", { timeout: 240_000 }, async () => {
    const subscribed = await fetch(`${api()}/v1/webhooks`, {
      method: "POST",
      headers: { ...auth(), "content-type": "application/json" },
      body: JSON.stringify({ url: receiver.url("/hooks/images"), events: ["image.ready", "image.deleted"] }),
    });
    expect(subscribed.status).toBe(200);
    const { secret } = ((await subscribed.json()) as { result: { secret: string } }).result;

    const form = new FormData();
    const photo = await sharp({ create: { width: 320, height: 240, channels: 3, background: "#c84" } }).jpeg().toBuffer();
    form.append("file", new Blob([photo], { type: "image/jpeg" }), "hooked.jpg");
    form.append("id", "hooked");
    expect((await fetch(`${api()}/v1`, { method: "POST", headers: auth(), body: form })).status).toBe(200);

    const ready = await eventOf("image.ready", "hooked");
    expect(verifies(secret, ready)).toBe(true);
    expect(verifies(secret, { ...ready, body: ready.body.replace("ready", "rEady") })).toBe(false);
    expect(JSON.parse(ready.body)).toMatchObject({ type: "image.ready", data: { id: "hooked", status: "ready" } });

    expect((await fetch(`${api()}/v1/hooked`, { method: "DELETE", headers: auth() })).status).toBe(200);
    const deleted = await eventOf("image.deleted", "hooked");
    expect(verifies(secret, deleted)).toBe(true);
    expect(deleted.headers["webhook-id"]).not.toBe(ready.headers["webhook-id"]);
  });
});
