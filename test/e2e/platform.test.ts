import { createHmac } from "node:crypto";
import Cloudflare, { NotFoundError, toFile } from "cloudflare";
import sharp from "sharp";
import { beforeAll, describe, expect, inject, it } from "vitest";
import type { StatusEvent } from "../../workers/shared/messages.ts";
import { parseStatusEvents } from "../fixtures/events.ts";
import { makeFixtures } from "../fixtures/images.ts";

const { origin, apiToken, accountId, accountHash, engine } = inject("platform");
const client = new Cloudflare({ apiToken, baseURL: `${origin}/client/v4`, maxRetries: 0 });
const account_id = accountId;
let fixtures: Awaited<ReturnType<typeof makeFixtures>>;

beforeAll(async () => {
  fixtures = await makeFixtures();
});

/** Follows an image's Server-Sent Events until a terminal state and returns every event seen. */
async function followEvents(id: string): Promise<StatusEvent[]> {
  const response = await fetch(`${origin}/client/v4/accounts/${accountId}/images/v1/${id}/events`, {
    headers: { authorization: `Bearer ${apiToken}` },
    signal: AbortSignal.timeout(90_000),
  });
  expect(response.headers.get("content-type")).toContain("text/event-stream");
  return parseStatusEvents(await response.text()); // the stream ends at a terminal state
}

async function deliver(url: string, accept?: string) {
  const response = await fetch(url, { headers: accept ? { accept } : {} });
  const body = Buffer.from(await response.arrayBuffer());
  const meta = response.ok ? await sharp(body).metadata() : undefined;
  return { response, body, meta };
}

describe("the platform over HTTP with the official cloudflare SDK", () => {
  let photoId: string;

  it("uploads a file and follows the event stream to ready", async () => {
    const image = await client.images.v1.create({
      account_id,
      file: await toFile(fixtures.landscapeJpeg, "landscape.jpg"),
      metadata: { album: "e2e" },
    });
    photoId = image.id!;
    expect(image).toMatchObject({ filename: "landscape.jpg", meta: { album: "e2e" }, requireSignedURLs: false });
    expect(image.variants).toEqual([`${origin}/cdn-cgi/imagedelivery/${accountHash}/${photoId}/public`]);
    const events = await followEvents(photoId);
    expect(events.at(-1)).toMatchObject({ status: "ready" });
    // Our placeholder extension rides beside Cloudflare's fields; the SDK hands it through untouched.
    expect(await client.images.v1.get(photoId, { account_id })).toMatchObject({
      id: photoId,
      status: "ready",
      placeholder: { thumbhash: expect.stringMatching(/^[A-Za-z0-9+/]+=*$/), dominantColor: expect.stringMatching(/^#[0-9a-f]{6}$/) },
    });
  });

  it("serves AVIF, WebP and JPEG by Accept, each decoding as its Content-Type with the promised size", async () => {
    const url = `${origin}/cdn-cgi/imagedelivery/${accountHash}/${photoId}/public`;
    const cases = [
      { accept: "image/avif,image/webp,*/*", type: "image/avif", format: "heif" },
      { accept: "image/webp,*/*", type: "image/webp", format: "webp" },
      { accept: "*/*", type: "image/jpeg", format: "jpeg" },
    ];
    for (const { accept, type, format } of cases) {
      const { response, meta } = await deliver(url, accept);
      expect(response.status, accept).toBe(200);
      expect(response.headers.get("content-type")).toBe(type);
      expect(response.headers.get("vary")).toBe("Accept");
      expect(meta).toMatchObject({ format, width: 640, height: 480 });
    }
    const flexible = await deliver(`${origin}/cdn-cgi/imagedelivery/${accountHash}/${photoId}/w=200,h=200,fit=cover,f=png`);
    expect(flexible.meta).toMatchObject({ format: "png", width: 200, height: 200 });
    const etag = flexible.response.headers.get("etag")!;
    const again = await fetch(`${origin}/cdn-cgi/imagedelivery/${accountHash}/${photoId}/w=200,h=200,fit=cover,f=png`, {
      headers: { "if-none-match": etag },
    });
    expect(again.status).toBe(304);
  });

  it("renders in the render process of its own, not on the thread that delivers (all but small renders)", async () => {
    const served = async () => {
      const response = await fetch(`${engine!.url}/stats`, { headers: { authorization: `Bearer ${engine!.token}` } });
      expect(response.status).toBe(200);
      return ((await response.json()) as { served: number }).served;
    };
    expect(engine, "npm start names its render process in workers/processor/.dev.vars").toBeDefined();
    expect((await fetch(`${engine!.url}/stats`)).status).toBe(401);
    const before = await served();
    // Over 1 MP of output: small renders stay in place (workers/processor/pipeline/render.ts, rendersInPlace).
    const { response } = await deliver(`${origin}/cdn-cgi/imagedelivery/${accountHash}/${photoId}/w=1200,h=1000,fit=pad,f=webp`);
    expect(response.status).toBe(200);
    expect(response.headers.get("x-image-source")).toBe("RENDERED");
    expect(await served()).toBe(before + 1);
  });

  it("uploads through a one-time direct upload URL, refusing a second use", async () => {
    const { id, uploadURL } = await client.images.v2.directUploads.create({ account_id, metadata: { via: "browser" } });
    expect((await client.images.v1.get(id!, { account_id })) as any).toMatchObject({ status: "draft" });
    const form = () => {
      const f = new FormData();
      f.append("file", new Blob([new Uint8Array(fixtures.alphaPng)]), "disc.png");
      return f;
    };
    const first = await fetch(uploadURL!, { method: "POST", body: form() });
    expect(first.status).toBe(200);
    const second = await fetch(uploadURL!, { method: "POST", body: form() });
    expect(second.status).toBe(409);
    expect(((await second.json()) as any).errors[0].message).toContain("already been used");
    expect((await followEvents(id!)).at(-1)).toMatchObject({ status: "ready" });
    const { meta } = await deliver(`${origin}/cdn-cgi/imagedelivery/${accountHash}/${id}/public`);
    expect(meta).toMatchObject({ format: "png", hasAlpha: true, width: 400, height: 300 });
  });

  it("protects a requireSignedURLs image: unsigned 403, signed with the default key 200", async () => {
    const image = await client.images.v1.create({ account_id, file: await toFile(fixtures.lossyWebp, "secret.webp"), requireSignedURLs: true });
    const path = `/cdn-cgi/imagedelivery/${accountHash}/${image.id}/public`;
    expect((await fetch(`${origin}${path}`)).status).toBe(403);
    const keys = await client.images.v1.keys.list({ account_id });
    const key = keys.keys!.find((k) => k.name === "default")!.value!;
    const exp = Math.floor(Date.now() / 1000) + 300;
    const sig = createHmac("sha256", key).update(`${path}?exp=${exp}`).digest("hex");
    const signed = await deliver(`${origin}${path}?exp=${exp}&sig=${sig}`, "image/webp");
    expect(signed.response.status).toBe(200);
    expect(signed.meta).toMatchObject({ format: "webp", width: 640, height: 480 });
    expect((await fetch(`${origin}${path}?exp=${exp + 1}&sig=${sig}`)).status).toBe(403);
  });

  it("ends a corrupt upload as failed with its reason, keeping the original", async () => {
    const image = await client.images.v1.create({ account_id, file: await toFile(fixtures.corruptJpeg, "broken.jpg") });
    const last = (await followEvents(image.id!)).at(-1)!;
    expect(last.status).toBe("failed");
    expect(last.error).toEqual(expect.stringMatching(/\w{4,}/));
    const record = (await client.images.v1.get(image.id!, { account_id })) as any;
    expect(record).toMatchObject({ status: "failed", error: last.error });
    const blob = await client.images.v1.blobs.get(image.id!, { account_id });
    expect(Buffer.from(await blob.arrayBuffer()).equals(fixtures.corruptJpeg)).toBe(true);
    expect((await fetch(`${origin}/cdn-cgi/imagedelivery/${accountHash}/${image.id}/public`)).status).toBe(422);
  });

  it("refuses a url on the platform's own loopback address, and serves images and upload URLs to other origins (CORS)", async () => {
    // `npm start` keeps loopback sources refused (ALLOW_LOOPBACK_SOURCES is off): the platform cannot be made to
    // fetch itself or anything else on the machine. Fetching from an allowed source: test/workers/source-fetch.test.ts.
    const source = `${origin}/cdn-cgi/imagedelivery/${accountHash}/${photoId}/w=300,f=jpeg`;
    const error = await client.images.v1.create({ account_id, url: source }).catch((e) => e);
    expect(error.status).toBe(400);
    expect(error.errors[0].message).toContain("127.0.0.1 is a loopback address (127.0.0.0/8)");
    const { response } = await deliver(`${origin}/cdn-cgi/imagedelivery/${accountHash}/${photoId}/public`, "image/webp");
    expect(response.headers.get("access-control-allow-origin")).toBe("*");
  });

  it("refuses a non-image with 415 in the Cloudflare envelope", async () => {
    const error = await client.images.v1.create({ account_id, file: await toFile(fixtures.textFile, "notes.txt") }).catch((e) => e);
    expect(error.status).toBe(415);
    expect(error.errors[0].message).toContain("unsupported image format");
  });

  it("manages variants, lists images and reports stats through the SDK", async () => {
    const created = await client.images.v1.variants.create({
      account_id,
      id: "square",
      options: { fit: "cover", width: 120, height: 120, metadata: "none" },
    });
    expect(created.variant).toMatchObject({ id: "square", options: { width: 120 } });
    const { meta } = await deliver(`${origin}/cdn-cgi/imagedelivery/${accountHash}/${photoId}/square`);
    expect(meta).toMatchObject({ width: 120, height: 120 });
    // Our extension, which the SDK's parsing lets through: the new variant is rendered for the images already ready.
    const deadline = Date.now() + 30_000;
    let backfill;
    do {
      await new Promise((r) => setTimeout(r, 250));
      backfill = ((await client.images.v1.variants.get("square", { account_id })).variant as { backfill?: { status: string; done: number; total: number } }).backfill;
    } while (backfill?.status === "running" && Date.now() < deadline);
    expect(backfill).toMatchObject({ status: "complete", failed: 0 });
    expect(backfill!.done).toBe(backfill!.total);
    expect(backfill!.done).toBeGreaterThanOrEqual(1);

    const ids: string[] = [];
    for await (const image of client.images.v1.list({ account_id, per_page: 2 })) ids.push((image as any).id);
    expect(ids).toContain(photoId);
    const v2 = await client.images.v2.list({ account_id, per_page: 10 });
    expect(v2.images!.map((i) => i.id)).toContain(photoId);
    const stats = await client.images.v1.stats.get({ account_id });
    expect(stats.count!.current).toBeGreaterThanOrEqual(4);
  });

  it("deletes an image: metadata and delivery are 404 afterwards", async () => {
    await client.images.v1.delete(photoId, { account_id });
    await expect(client.images.v1.get(photoId, { account_id })).rejects.toBeInstanceOf(NotFoundError);
    expect((await fetch(`${origin}/cdn-cgi/imagedelivery/${accountHash}/${photoId}/public`)).status).toBe(404);
  });
});
