// Another service learns of an image's changes: a loopback receiver subscribed through the API gets image.ready
// and image.deleted from the real `npm start` platform (queue, processor, coordinator), signed per Standard
// Webhooks and verified here with node:crypto, independently of the platform's signer. This platform instance is
// its own, started with ALLOW_LOOPBACK_SOURCES=true: the shared e2e one keeps loopback refused, as npm start does.
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import sharp from "sharp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalPlatform, type LocalPlatform } from "../../scripts/local-platform.ts";

interface Received {
  headers: Record<string, string>;
  body: string;
}

let platform: LocalPlatform;
let receiver: Server;
const received: Received[] = [];

beforeAll(async () => {
  platform = await startLocalPlatform({ env: { EXTRA_VARS: "ALLOW_LOOPBACK_SOURCES:true" } });
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (c: Buffer) => chunks.push(c));
    request.on("end", () => {
      received.push({ headers: request.headers as Record<string, string>, body: Buffer.concat(chunks).toString("utf8") });
      response.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
}, 180_000);

afterAll(async () => {
  receiver?.close();
  await platform?.stop();
});

const api = () => `${platform.origin}/client/v4/accounts/${platform.accountId}/images`;
const auth = () => ({ authorization: `Bearer ${platform.apiToken}` });

/** Standard Webhooks: base64 HMAC-SHA256 of "id.timestamp.body" under the secret's base64-decoded bytes. */
function verifies(secret: string, delivery: Received): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = createHmac("sha256", key)
    .update(`${delivery.headers["webhook-id"]}.${delivery.headers["webhook-timestamp"]}.${delivery.body}`)
    .digest();
  return delivery.headers["webhook-signature"]
    .split(" ")
    .filter((s) => s.startsWith("v1,"))
    .some((s) => {
      const given = Buffer.from(s.slice(3), "base64");
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
}

async function eventOf(type: string, imageId: string, timeoutMs = 90_000): Promise<Received> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = received.find((r) => {
      const body = JSON.parse(r.body);
      return body.type === type && body.data?.id === imageId;
    });
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`no ${type} for ${imageId} within ${timeoutMs / 1000} s; received ${received.map((r) => r.body).join("\n")}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe("webhooks from the running platform", () => {
  it("delivers signed image.ready and image.deleted events to a subscriber", { timeout: 240_000 }, async () => {
    const { port } = receiver.address() as AddressInfo;
    const subscribed = await fetch(`${api()}/v1/webhooks`, {
      method: "POST",
      headers: { ...auth(), "content-type": "application/json" },
      body: JSON.stringify({ url: `http://127.0.0.1:${port}/hooks/images`, events: ["image.ready", "image.deleted"] }),
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
