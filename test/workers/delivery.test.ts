import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { renditionCacheKey } from "../../workers/gateway/delivery/cache.ts";
import { imageStorageId } from "../../workers/shared/storage.ts";
import { signUrl } from "../../workers/gateway/delivery/signing.ts";
import { parseFlexibleOptions, transformFingerprint, transformOfVariant } from "../../workers/shared/transform.ts";
import { DELIVERY, api, coordinator, deliver, eventually, json, upload, waitForStatus } from "./helpers.ts";

const PUBLIC = { fit: "scale-down", width: 1366, height: 768, metadata: "none" } as const;

const BROWSER_ACCEPT = "image/avif,image/webp,image/apng,image/*,*/*;q=0.8";

describe("delivery", () => {
  it("negotiates AVIF, WebP, JPEG by Accept for named variants, with Vary: Accept", async () => {
    await json(await upload("landscapeJpeg", { id: "deliver" }));
    await waitForStatus("deliver", ["ready"]);
    const avif = await deliver("deliver/public", { accept: BROWSER_ACCEPT });
    expect(avif.response.headers.get("content-type")).toBe("image/avif");
    expect(avif.header).toMatchObject({ format: "avif", width: 640, height: 480 });
    expect(avif.response.headers.get("vary")).toBe("Accept");

    const webp = await deliver("deliver/public", { accept: "image/webp,*/*" });
    expect(webp.header).toMatchObject({ format: "webp", width: 640, height: 480 });
    const jpeg = await deliver("deliver/public", { accept: "*/*" });
    expect(jpeg.header).toMatchObject({ format: "jpeg", width: 640, height: 480 });
    // Bytes behind a URL can change (a variant redefined, an id deleted and reused): two days, never immutable.
    expect(jpeg.response.headers.get("cache-control")).toBe("public, max-age=172800");
  });

  it("serves PNG to clients without WebP/AVIF when the image has alpha; an explicit format wins", async () => {
    await json(await upload("alphaPng", { id: "deliver-alpha" }));
    await waitForStatus("deliver-alpha", ["ready"]);
    expect((await deliver("deliver-alpha/public")).header).toMatchObject({ format: "png", hasAlpha: true });
    expect((await deliver("deliver-alpha/w=50,f=webp")).header).toMatchObject({ format: "webp", width: 50 });
  });

  it("caches by negotiated format, answers 304 for a matching ETag", async () => {
    await json(await upload("lossyWebp", { id: "cached" }));
    await waitForStatus("cached", ["ready"]);
    const first = await deliver("cached/public", { accept: "image/webp" });
    const etag = first.response.headers.get("etag")!;
    expect(etag).toMatch(/^"[^"]+"$/);
    const second = await deliver("cached/public", { accept: "image/webp" });
    expect(second.response.headers.get("x-image-source")).toBe("HIT");
    expect(second.bytes).toEqual(first.bytes);
    const jpeg = await deliver("cached/public", { accept: "image/jpeg" });
    expect(jpeg.header?.format).toBe("jpeg");
    const notModified = await SELF.fetch(`${DELIVERY}/cached/public`, { headers: { accept: "image/webp", "if-none-match": etag } });
    expect(notModified.status).toBe(304);
    expect(await notModified.text()).toBe("");
  });

  it("renders flexible variants with the dimensions their fit promises", async () => {
    await json(await upload("landscapeJpeg", { id: "flex" }));
    expect((await deliver("flex/w=100,h=100,fit=cover,f=png")).header).toMatchObject({ format: "png", width: 100, height: 100 });
    expect((await deliver("flex/w=200,h=200,fit=contain,f=jpeg")).header).toMatchObject({ width: 200, height: 150 });
    expect((await deliver("flex/w=300,h=300,fit=pad,f=jpeg")).header).toMatchObject({ width: 300, height: 300 });
    expect((await deliver("flex/w=2000,fit=scale-down,f=webp")).header).toMatchObject({ width: 640, height: 480 });
    expect((await deliver("flex/w=160,dpr=2,f=webp")).header).toMatchObject({ width: 320, height: 240 });
    const bad = await deliver("flex/w=100,sharpen=11");
    expect(bad.response.status).toBe(400);
    expect(JSON.parse(new TextDecoder().decode(bad.bytes)).errors[0].message).toContain("sharpen");
  });

  it("renders blur=10 as its own rendition, cached under its own key", async () => {
    await json(await upload("landscapeJpeg", { id: "blurred" }));
    await waitForStatus("blurred", ["ready"]);
    const plain = await deliver("blurred/w=320,f=png");
    const blurred = await deliver("blurred/w=320,blur=10,f=png");
    expect(blurred.header).toMatchObject({ format: "png", width: 320, height: 240 });
    expect(blurred.bytes).not.toEqual(plain.bytes);
    const again = await deliver("blurred/w=320,blur=10.0,f=png");
    expect(again.response.headers.get("x-image-source")).toBe("HIT");
    expect(again.bytes).toEqual(blurred.bytes);

    const { life } = await coordinator("blurred").snapshot();
    const image = { storageId: await imageStorageId("blurred"), life };
    const [blurKey, plainKey] = await Promise.all(["w=320,blur=10", "w=320"].map(async (o) => renditionCacheKey(image, await transformFingerprint(parseFlexibleOptions(o)), "png")));
    expect(blurKey).not.toBe(plainKey);
    const cache = await caches.open("renditions");
    await eventually(async () => {
      expect(new Uint8Array(await (await cache.match(blurKey))!.arrayBuffer())).toEqual(blurred.bytes);
      expect(new Uint8Array(await (await cache.match(plainKey))!.arrayBuffer())).toEqual(plain.bytes);
    });
  });

  it("applies EXIF orientation", async () => {
    await json(await upload("rotatedJpeg", { id: "rotated" }));
    expect((await deliver("rotated/w=240,f=jpeg")).header).toMatchObject({ width: 240, height: 320, orientation: 1 });
  });

  it("renders on demand a variant not produced yet, never a broken response", async () => {
    await json(await upload("progressiveJpeg", { id: "early" }));
    const { response, header } = await deliver("early/public", { accept: "image/webp" });
    expect(response.status).toBe(200);
    expect(header).toMatchObject({ format: "webp", width: 640, height: 480 });
  });

  it("serves a burst of concurrent first requests for a new variant, all with the same output", async () => {
    await json(await upload("landscapeJpeg", { id: "burst" }));
    await waitForStatus("burst", ["ready"]);
    const responses = await Promise.all(Array.from({ length: 6 }, () => deliver("burst/w=222,f=webp")));
    for (const { response, header } of responses) {
      expect(response.status).toBe(200);
      expect(header).toMatchObject({ format: "webp", width: 222 });
    }
    const etags = new Set(responses.map((r) => r.response.headers.get("etag")));
    expect(etags.size).toBe(1);
  });

  it("requires a valid, unexpired signature for images with requireSignedURLs", async () => {
    await json(await upload("landscapeJpeg", { id: "private", requireSignedURLs: "true" }));
    const keys = (await json(await api("/v1/keys"))).result.keys;
    const key = keys.find((k: any) => k.name === "default").value;
    const url = new URL(`${DELIVERY}/private/public`);

    expect((await deliver(url.href)).response.status).toBe(403);
    const signed = await signUrl(url, key, Date.now() + 60_000);
    const ok = await deliver(signed.href, { accept: "image/webp" });
    expect(ok.response.status).toBe(200);
    expect(ok.response.headers.get("cache-control")).toMatch(/^private/);

    const tampered = new URL(signed);
    tampered.searchParams.set("exp", String(Number(tampered.searchParams.get("exp")) + 3600));
    expect((await deliver(tampered.href)).response.status).toBe(403);
    const expired = await signUrl(url, key, Date.now() - 1000);
    const expiredResponse = await deliver(expired.href);
    expect(expiredResponse.response.status).toBe(403);
    expect(new TextDecoder().decode(expiredResponse.bytes)).toContain("expired");
    const wrongKey = await signUrl(url, "0".repeat(64), Date.now() + 60_000);
    expect((await deliver(wrongKey.href)).response.status).toBe(403);
  });

  it("serves variants with neverRequireSignedURLs without a signature", async () => {
    await api("/v1/variants", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ id: "open", options: { fit: "scale-down", width: 64, height: 64 }, neverRequireSignedURLs: true }),
    });
    await json(await upload("gif", { id: "private-open", requireSignedURLs: "true" }));
    expect((await deliver("private-open/open")).response.status).toBe(200);
  });

  it("answers 404 for unknown images, variants and account hashes, and after delete", async () => {
    expect((await deliver("nope/public")).response.status).toBe(404);
    await json(await upload("gif", { id: "gone" }));
    expect((await deliver("gone/no-such-variant")).response.status).toBe(404);
    expect((await SELF.fetch(`${DELIVERY.replace("test-hash", "other")}/gone/public`)).status).toBe(404);
    expect((await deliver("gone/public")).header?.format).toBe("jpeg");
    const { life } = await coordinator("gone").snapshot();
    const key = renditionCacheKey({ storageId: await imageStorageId("gone"), life }, await transformFingerprint(transformOfVariant(PUBLIC)), "jpeg");
    const cache = await caches.open("renditions");
    await eventually(async () => expect(await cache.match(key)).toBeDefined());

    await json(await api("/v1/gone", { method: "DELETE" }));
    expect((await deliver("gone/public")).response.status).toBe(404);
    expect(await cache.match(key)).toBeUndefined();
  });

  it("answers a failed image with an error status and its reason", async () => {
    await json(await upload("corruptJpeg", { id: "undecodable" }));
    await waitForStatus("undecodable", ["failed"]);
    const { response, bytes } = await deliver("undecodable/public");
    expect(response.status).toBe(422);
    expect(new TextDecoder().decode(bytes)).toContain("could not be processed");
  });

  it("accepts every input format", async () => {
    const names = ["grayscaleJpeg", "cmykJpeg", "progressiveJpeg", "sixteenBitPng", "interlacedPng", "paletteAlphaPng", "lossyWebp", "alphaWebp", "avif", "gif", "animatedGif"] as const;
    for (const name of names) {
      await json(await upload(name, { id: `input-${name}` }));
      const state = await waitForStatus(`input-${name}`, ["ready", "failed"]);
      expect(state, name).toMatchObject({ status: "ready" });
      expect((await deliver(`input-${name}/w=64,f=jpeg`)).header, name).toMatchObject({ format: "jpeg", width: 64 });
    }
  });
});
