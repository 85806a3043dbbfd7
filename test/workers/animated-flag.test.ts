import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { readAnimation } from "../../wasm/src/animation/index.ts";
import { probeImage } from "../../wasm/src/probe.ts";
import { ingestIncoming } from "../../workers/processor/direct-uploads.ts";
import { imageStorageId, incomingKey } from "../../workers/shared/storage.ts";
import type { FixtureName } from "../fixtures/images.ts";
import { api, coordinator, deliver, fixture, json, jsonBody, upload, waitForStatus } from "./helpers.ts";

// Whether an original is animated is recorded at upload (images.animated, from the probe) and read by delivery's
// format negotiation: an animation kept is never served as AVIF, which we do not animate; a still one is.

const BROWSER_ACCEPT = "image/avif,image/webp,image/apng,image/*,*/*;q=0.8";
const animatedColumn = (id: string) => env.DB.prepare("SELECT animated FROM images WHERE id = ?").bind(id).first<{ animated: number | null }>();

async function uploadReady(name: FixtureName, id: string): Promise<void> {
  await json(await upload(name, { id }));
  expect(await waitForStatus(id, ["ready", "failed"])).toMatchObject({ status: "ready" });
}

describe("the animated flag", () => {
  it("a one-frame GIF is recorded still and negotiates like any still: AVIF for a browser that takes it", async () => {
    await uploadReady("gif", "still-gif");
    expect(await animatedColumn("still-gif")).toEqual({ animated: 0 });
    const { response } = await deliver("still-gif/w=100,f=auto", { accept: BROWSER_ACCEPT });
    expect(response.headers.get("content-type")).toBe("image/avif");
  });

  it("an animated GIF is recorded animated and served as an animated WebP, not a still AVIF", async () => {
    await uploadReady("movingGif", "moving-gif");
    expect(await animatedColumn("moving-gif")).toEqual({ animated: 1 });
    const { response, bytes } = await deliver("moving-gif/w=80,f=auto", { accept: BROWSER_ACCEPT });
    expect(response.headers.get("content-type")).toBe("image/webp");
    expect(readAnimation(bytes, "webp")?.frameCount).toBe(4);
  });

  it("an animated WebP keeps its animation too (before the flag, only GIFs were taken for animated)", async () => {
    await uploadReady("movingWebp", "moving-webp");
    expect(await animatedColumn("moving-webp")).toEqual({ animated: 1 });
    const { response, bytes } = await deliver("moving-webp/w=80,f=auto", { accept: BROWSER_ACCEPT });
    expect(response.headers.get("content-type")).toBe("image/webp");
    expect(readAnimation(bytes, "webp")?.frameCount).toBe(4);
  });

  it("a GIF recorded before the flag existed is still taken for animated (WebP, never a still AVIF of an animation)", async () => {
    await uploadReady("gif", "old-gif");
    await env.DB.prepare("UPDATE images SET animated = NULL WHERE id = ?").bind("old-gif").run();
    const { response } = await deliver("old-gif/w=100,f=auto", { accept: BROWSER_ACCEPT });
    expect(response.headers.get("content-type")).toBe("image/webp");
  });

  it("a still image uploaded is recorded not animated", async () => {
    await uploadReady("landscapeJpeg", "still-jpeg");
    expect(await animatedColumn("still-jpeg")).toEqual({ animated: 0 });
  });
});

describe("the animated flag of a GIF probed from its first bytes only (direct-to-R2 uploads)", () => {
  it("a one-frame GIF whose frame runs past the first read is recorded unknown (null), and delivered as a GIF may be", async () => {
    const gif = fixture("noisyStillGif");
    const prefix = probeImage(gif.subarray(0, 64 * 1024));
    expect(prefix).toMatchObject({ animated: false, animationUnknown: true });
    expect(probeImage(gif)).not.toHaveProperty("animationUnknown");

    const id = "direct-noisy-gif";
    await json(await api("/v2/direct_upload", { method: "POST", ...jsonBody({ id }) }));
    const key = incomingKey({ storageId: await imageStorageId(id), life: (await coordinator(id).snapshot()).life });
    const object = await env.BUCKET.put(key, gif);
    const notification = { account: "test-account", action: "PutObject", bucket: "images-test", object: { key, size: object!.size, eTag: object!.etag }, eventTime: new Date().toISOString() };
    expect(await ingestIncoming(env, notification)).toBe("accepted");
    expect(await animatedColumn(id)).toEqual({ animated: null });
  });

  it("a whole one-frame GIF (multipart) is known to be still", async () => {
    await uploadReady("noisyStillGif", "multipart-noisy-gif");
    expect(await animatedColumn("multipart-noisy-gif")).toEqual({ animated: 0 });
  });
});
