import { env, runInDurableObject, SELF } from "cloudflare:test";
import type { ImageCoordinator } from "../../workers/gateway/coordinator.ts";
import { describe, expect, it } from "vitest";
import { signUrl } from "../../workers/gateway/delivery/signing.ts";
import { snapWidth } from "../../workers/gateway/delivery/routes.ts";
import { AFTERTHOUGHT_MS } from "../../workers/gateway/invalidate.ts";
import { renditionKeyPrefix } from "../../workers/gateway/delivery/cache.ts";
import { forgetRenditionsOf, keepInMemory, memoryRendition, memoryTierKeys, memoryTierUsage } from "../../workers/gateway/delivery/memory-tier.ts";
import { imageStorageId, renditionKey } from "../../workers/shared/storage.ts";
import { parseFlexibleOptions, transformFingerprint, type Transform } from "../../workers/shared/transform.ts";
import type { RenderRequest } from "../../workers/shared/render.ts";
import { probeImage } from "../../wasm/src/probe.ts";
import { listVariantTransforms } from "../../workers/gateway/account.ts";
import { database } from "../../workers/shared/db.ts";
import { DELIVERY, api, coordinator, deliver, eventually, gatewayWith, json, jsonBody, upload, waitForStatus } from "./helpers.ts";

/** Bindings whose D1 and Durable Objects fail loudly on any use, and record that they were touched. */
function centralOutage(overrides: Record<string, string> = {}) {
  const touched: string[] = [];
  const refuse = (name: string) =>
    new Proxy({}, {
      get(_target, property) {
        touched.push(`${name}.${String(property)}`);
        throw new Error(`${name} is unreachable`);
      },
    });
  return { bindings: { ...overrides, DB: refuse("D1"), COORDINATOR: refuse("DurableObject") } as unknown as Partial<typeof env>, touched };
}

const webp = { accept: "image/webp", "cf-connecting-ip": "192.0.2.1" };

describe("the delivery hit path", () => {
  it("answers a cached image with no D1 query and no Durable Object call", async () => {
    await json(await upload("landscapeJpeg", { id: "hit-path" }));
    await waitForStatus("hit-path", ["ready"]);
    await deliver("hit-path/public", webp);
    await eventually(async () => expect((await deliver("hit-path/public", webp)).response.headers.get("x-image-source")).toBe("HIT"));

    const { bindings, touched } = centralOutage();
    const hit = await gatewayWith(bindings, `${DELIVERY}/hit-path/public`, { headers: webp });
    expect(hit.status).toBe(200);
    expect(hit.headers.get("x-image-source")).toBe("HIT");
    expect(touched).toEqual([]);
  });

  it("keeps serving cached images from its last copy of their state while D1 is unreachable", async () => {
    await json(await upload("lossyWebp", { id: "d1-down" }));
    await waitForStatus("d1-down", ["ready"]);
    await deliver("d1-down/public", webp);
    await eventually(async () => expect((await deliver("d1-down/public", webp)).response.headers.get("x-image-source")).toBe("HIT"));
    // A 1 s TTL makes the location's copy stale, so the delivery tries D1, fails, and falls back on the copy.
    const { bindings, touched } = centralOutage({ EDGE_STATE_TTL_SECONDS: "1" });
    await new Promise((r) => setTimeout(r, 1200));
    const served = await gatewayWith(bindings, `${DELIVERY}/d1-down/public`, { headers: webp });
    expect(served.status).toBe(200);
    expect(touched.some((t) => t.startsWith("D1"))).toBe(true);
  });
});

describe("the isolate's memory tier", () => {
  const renditionsOf = async (id: string) => {
    const prefix = renditionKeyPrefix(await imageStorageId(id));
    return memoryTierKeys().filter((k) => k.startsWith(prefix));
  };

  it("keeps a rendition served twice from the location's cache, and answers it with no cache lookup", async () => {
    await json(await upload("landscapeJpeg", { id: "memory-hot" }));
    await waitForStatus("memory-hot", ["ready"]);
    const first = await deliver("memory-hot/w=120,f=webp", webp);
    expect(first.response.headers.get("x-image-source")).not.toBe("HIT");
    expect(await renditionsOf("memory-hot")).toEqual([]);
    await eventually(async () => expect((await deliver("memory-hot/w=120,f=webp", webp)).response.headers.get("x-image-source")).toBe("HIT"));
    const [key] = await renditionsOf("memory-hot");
    expect(key).toMatch(/\.webp$/);

    // With the location's copy gone, only the isolate's can answer a HIT, with the same bytes and ETag.
    await (await caches.open("renditions")).delete(key);
    const fromMemory = await deliver("memory-hot/w=120,f=webp", webp);
    expect(fromMemory.response.headers.get("x-image-source")).toBe("HIT");
    expect(fromMemory.bytes).toEqual(first.bytes);
    expect(fromMemory.response.headers.get("etag")).toBe(first.response.headers.get("etag"));
    const revalidated = await deliver("memory-hot/w=120,f=webp", { ...webp, "if-none-match": first.response.headers.get("etag")! });
    expect(revalidated.response.status).toBe(304);
  });

  it("never serves a copy past a change: a delete answers 404 and frees the image's copies", async () => {
    await json(await upload("landscapeJpeg", { id: "memory-delete" }));
    await waitForStatus("memory-delete", ["ready"]);
    await deliver("memory-delete/w=100,f=webp", webp);
    await eventually(async () => expect((await deliver("memory-delete/w=100,f=webp", webp)).response.headers.get("x-image-source")).toBe("HIT"));
    expect(await renditionsOf("memory-delete")).toHaveLength(1);
    await json(await api("/v1/memory-delete", { method: "DELETE" }));
    expect((await deliver("memory-delete/w=100,f=webp", webp)).response.status).toBe(404);
    expect(await renditionsOf("memory-delete")).toEqual([]);
  });

  it("holds nothing with DELIVERY_MEMORY_CACHE_MB=0", async () => {
    await json(await upload("landscapeJpeg", { id: "memory-off" }));
    await waitForStatus("memory-off", ["ready"]);
    const url = `${DELIVERY}/memory-off/w=90,f=webp`;
    for (let i = 0; i < 3; i++) await gatewayWith({ DELIVERY_MEMORY_CACHE_MB: "0" }, url, { headers: webp });
    expect((await gatewayWith({ DELIVERY_MEMORY_CACHE_MB: "0" }, url, { headers: webp })).headers.get("x-image-source")).toBe("HIT");
    expect(await renditionsOf("memory-off")).toEqual([]);
  });

  it("stays within its budget, evicting the least recently served first", () => {
    const budget = 16 * 1000;
    const copy = (n: number) => ({ bytes: new Uint8Array(n), etag: `"${n}"` });
    keepInMemory("test:a", copy(1000), budget);
    keepInMemory("test:b", copy(1000), budget);
    keepInMemory("test:too-large", copy(1001), budget);
    expect(memoryRendition("test:too-large")).toBeUndefined();
    memoryRendition("test:a");
    for (let i = 0; i < 15; i++) keepInMemory(`test:fill-${i}`, copy(1000), budget);
    expect(memoryRendition("test:b")).toBeUndefined();
    expect(memoryTierUsage().bytes).toBeLessThanOrEqual(budget);
    forgetRenditionsOf("test:");
  });
});

describe("invalidation: the next request sees each change", () => {
  it("delete: 404 at once, and the cached copy is gone", async () => {
    await json(await upload("gif", { id: "inv-delete" }));
    await waitForStatus("inv-delete", ["ready"]);
    expect((await deliver("inv-delete/public")).response.status).toBe(200);
    await json(await api("/v1/inv-delete", { method: "DELETE" }));
    expect((await deliver("inv-delete/public")).response.status).toBe(404);
  });

  it("requireSignedURLs switched on: the unsigned URL that was just served is refused", async () => {
    await json(await upload("gif", { id: "inv-signed" }));
    await waitForStatus("inv-signed", ["ready"]);
    expect((await deliver("inv-signed/public")).response.status).toBe(200);
    await json(await api("/v1/inv-signed", { method: "PATCH", ...jsonBody({ requireSignedURLs: true }) }));
    const refused = await deliver("inv-signed/public");
    expect(refused.response.status).toBe(403);
    expect(new TextDecoder().decode(refused.bytes)).toContain("requires a signed URL");
  });

  it("a variant redefined: the next delivery has the new size", async () => {
    await json(await api("/v1/variants", { method: "POST", ...jsonBody({ id: "inv-size", options: { fit: "scale-down", width: 200, height: 200 } }) }));
    await json(await upload("landscapeJpeg", { id: "inv-variant" }));
    await waitForStatus("inv-variant", ["ready"]);
    expect((await deliver("inv-variant/inv-size", webp)).header).toMatchObject({ width: 200, height: 150 });
    await json(await api("/v1/variants/inv-size", { method: "PATCH", ...jsonBody({ options: { width: 100, height: 100 } }) }));
    expect((await deliver("inv-variant/inv-size", webp)).header).toMatchObject({ width: 100, height: 75 });
  });

  it("a variant deleted: its URLs answer 404", async () => {
    await json(await api("/v1/variants", { method: "POST", ...jsonBody({ id: "inv-gone", options: { fit: "scale-down", width: 50, height: 50 } }) }));
    await json(await upload("gif", { id: "inv-variant-gone" }));
    expect((await deliver("inv-variant-gone/inv-gone", webp)).response.status).toBe(200);
    await json(await api("/v1/variants/inv-gone", { method: "DELETE" }));
    expect((await deliver("inv-variant-gone/inv-gone", webp)).response.status).toBe(404);
  });

  it("a signing key rotated or deleted: URLs signed with it are refused", async () => {
    const keys = async () => (await json(await api("/v1/keys"))).result.keys as { name: string; value: string }[];
    await json(await api("/v1/keys/inv-partner", { method: "PUT" }));
    const partner = (await keys()).find((k) => k.name === "inv-partner")!.value;
    await json(await upload("gif", { id: "inv-keys", requireSignedURLs: "true" }));
    const url = await signUrl(new URL(`${DELIVERY}/inv-keys/public`), partner, Date.now() + 600_000);
    expect((await deliver(url.href)).response.status).toBe(200);

    await json(await api("/v1/keys/inv-partner", { method: "PUT" }));
    expect((await deliver(url.href)).response.status).toBe(403);
    const rotated = (await keys()).find((k) => k.name === "inv-partner")!.value;
    const again = await signUrl(new URL(`${DELIVERY}/inv-keys/public`), rotated, Date.now() + 600_000);
    expect((await deliver(again.href)).response.status).toBe(200);
    await json(await api("/v1/keys/inv-partner", { method: "DELETE" }));
    expect((await deliver(again.href)).response.status).toBe(403);
  });

  it("at a location that did not handle the change: its copy is trusted within EDGE_STATE_TTL_SECONDS, then read again", async () => {
    await json(await upload("gif", { id: "inv-elsewhere" }));
    await waitForStatus("inv-elsewhere", ["ready"]);
    expect((await deliver("inv-elsewhere/public")).response.status).toBe(200);
    // Another location's copy, which no purge reached: put it back after the delete, as fresh and as stale.
    const docs = await caches.open("edge-state");
    const doc = `https://edge-state.internal/images/inv-elsewhere`;
    const copy = await (await docs.match(doc))!.json();
    await json(await api("/v1/inv-elsewhere", { method: "DELETE" }));
    // This location forgets once more a few seconds after the change: plant the other location's copy after that.
    await new Promise((r) => setTimeout(r, AFTERTHOUGHT_MS + 200));
    // An earlier test's afterthought may have dropped the account's copy: this location reads it again now.
    expect((await deliver("inv-elsewhere/public")).response.status).toBe(404);
    const putCopy = (ageSeconds: number) =>
      docs.put(doc, new Response(JSON.stringify(copy), { headers: { "cache-control": "max-age=86400", "x-fetched-at": String(Date.now() - ageSeconds * 1000) } }));

    await putCopy(5);
    await new Promise((r) => setTimeout(r, 1100)); // past the isolate's 1 s memory
    const within = centralOutage();
    await gatewayWith(within.bindings, `${DELIVERY}/inv-elsewhere/public`);
    expect(within.touched.filter((t) => t.startsWith("D1"))).toEqual([]);

    await putCopy(31);
    await new Promise((r) => setTimeout(r, 1100));
    const past = centralOutage();
    await gatewayWith(past.bindings, `${DELIVERY}/inv-elsewhere/public`);
    expect(past.touched.some((t) => t.startsWith("D1"))).toBe(true);
    expect((await deliver("inv-elsewhere/public")).response.status).toBe(404);
  });
});

describe("browser caching", () => {
  it("public images: two days, no immutable, ETag revalidation with 304", async () => {
    await json(await upload("lossyWebp", { id: "browser-public" }));
    const first = await deliver("browser-public/w=64,f=webp");
    expect(first.response.headers.get("cache-control")).toBe("public, max-age=172800");
    const etag = first.response.headers.get("etag")!;
    const again = await SELF.fetch(`${DELIVERY}/browser-public/w=64,f=webp`, { headers: { "if-none-match": etag } });
    expect(again.status).toBe(304);
  });

  it("signed images: private, and never cached past the signature's expiry", async () => {
    await json(await upload("gif", { id: "browser-signed", requireSignedURLs: "true" }));
    const key = (await json(await api("/v1/keys"))).result.keys.find((k: any) => k.name === "default").value;
    const url = await signUrl(new URL(`${DELIVERY}/browser-signed/public`), key, Date.now() + 600_000);
    const control = (await deliver(url.href)).response.headers.get("cache-control")!;
    expect(control).toMatch(/^private, max-age=\d+$/);
    expect(Number(control.split("=")[1])).toBeLessThanOrEqual(600);
  });
});

describe("byte ranges", () => {
  it("answers Range with 206 on delivery and blob, and HEAD with Content-Length", async () => {
    await json(await upload("landscapeJpeg", { id: "ranges" }));
    await waitForStatus("ranges", ["ready"]);
    const whole = await deliver("ranges/public", webp);
    const part = await deliver("ranges/public", { ...webp, range: "bytes=10-19" });
    expect(part.response.status).toBe(206);
    expect(part.response.headers.get("content-range")).toBe(`bytes 10-19/${whole.bytes.length}`);
    expect(part.bytes).toEqual(whole.bytes.subarray(10, 20));
    expect((await deliver("ranges/public", { ...webp, range: `bytes=${whole.bytes.length}-` })).response.status).toBe(416);

    const head = await SELF.fetch(`${DELIVERY}/ranges/public`, { method: "HEAD", headers: webp });
    expect(head.headers.get("content-length")).toBe(String(whole.bytes.length));

    const blob = await api("/v1/ranges/blob", { headers: { range: "bytes=-4" } });
    expect(blob.status).toBe(206);
    expect([...new Uint8Array(await blob.arrayBuffer())].slice(-2)).toEqual([0xff, 0xd9]); // a JPEG's EOI
  });
});

describe("deletes win every race", () => {
  it("a delete during a burst of on-demand renders leaves nothing behind, and the re-uploaded id never shows the old pixels", async () => {
    await json(await upload("landscapeJpeg", { id: "race" }));
    const { life: oldLife } = await waitForStatus("race", ["ready"]);
    const widths = [101, 102, 103, 104, 105, 106, 107, 108];
    const burst = Promise.all(widths.map((w) => deliver(`race/w=${w},f=webp`)));
    await new Promise((r) => setTimeout(r, 30));
    await json(await api("/v1/race", { method: "DELETE" }));
    await burst;
    const storageId = await imageStorageId("race");
    await eventually(async () => {
      expect((await env.BUCKET.list({ prefix: `flexible/${storageId}/` })).objects).toEqual([]);
      expect((await env.DB.prepare("SELECT count(*) AS n FROM renditions WHERE image_id = 'race'").first())?.n).toBe(0);
    });

    // The same id, now a grayscale photo: every URL the old image was served under shows the new one.
    await json(await upload("grayscaleJpeg", { id: "race" }));
    const { life } = await waitForStatus("race", ["ready"]);
    expect(life).not.toBe(oldLife);
    for (const w of widths) {
      const { header } = await deliver(`race/w=${w},f=jpeg`);
      expect(header, `w=${w}`).toMatchObject({ width: w });
    }
    const key = renditionKey({ storageId, life: oldLife }, "x", "webp", true);
    expect(key).toContain(oldLife);
    expect((await env.BUCKET.list({ prefix: `flexible/${storageId}/${oldLife}/` })).objects).toEqual([]);
  });
});

describe("render amplification", () => {
  it("limits uncached renders per client with 429 and Retry-After; cached images stay unlimited", async () => {
    await json(await upload("gif", { id: "amplified" }));
    await waitForStatus("amplified", ["ready"]);
    const client = { "cf-connecting-ip": "203.0.113.77" };
    const statuses: number[] = [];
    for (let w = 10; w < 40; w++) statuses.push((await deliver(`amplified/w=${w},f=webp`, client)).response.status);
    expect(statuses.filter((s) => s === 200).length).toBe(20); // the test config allows 20 a minute
    const limited = await deliver("amplified/w=99,f=webp", client);
    expect(limited.response.status).toBe(429);
    expect(limited.response.headers.get("retry-after")).toBe("60");
    expect(new TextDecoder().decode(limited.bytes)).toContain("RENDER_LIMITER");
    expect((await deliver("amplified/w=10,f=webp", client)).response.status).toBe(200);
  });

  it("snaps w up to ALLOWED_WIDTHS so every width in a band shares one rendition", () => {
    const widths = [64, 128, 256];
    expect(snapWidth(parseFlexibleOptions("w=100"), widths)).toMatchObject({ width: 128 });
    expect(snapWidth(parseFlexibleOptions("w=128,h=64"), widths)).toMatchObject({ width: 128, height: 64 });
    expect(snapWidth(parseFlexibleOptions("w=100,h=50"), widths)).toMatchObject({ width: 128, height: 64 });
    expect(snapWidth(parseFlexibleOptions("w=4000"), widths)).toMatchObject({ width: 256 });
    expect(snapWidth(parseFlexibleOptions("h=70"), widths)).toMatchObject({ height: 70 });
  });

  it("sweeps flexible renditions past FLEXIBLE_RENDITION_TTL_DAYS and keeps named ones", async () => {
    await json(await upload("gif", { id: "swept" }));
    await waitForStatus("swept", ["ready"]);
    expect((await deliver("swept/w=33,f=webp")).response.status).toBe(200);
    const storageId = await imageStorageId("swept");
    await eventually(async () => expect((await env.BUCKET.list({ prefix: `flexible/${storageId}/` })).objects).toHaveLength(1));
    await env.DB.prepare("UPDATE renditions SET created_at = '2000-01-01T00:00:00.000Z' WHERE image_id = 'swept'").run();

    const { sweepFlexibleRenditions } = await import("../../workers/gateway/sweep.ts");
    const { parseConfig } = await import("../../workers/shared/config.ts");
    expect(await sweepFlexibleRenditions(env, parseConfig(env))).toBeGreaterThanOrEqual(1);
    expect((await env.BUCKET.list({ prefix: `flexible/${storageId}/` })).objects).toEqual([]);
    expect((await env.BUCKET.list({ prefix: `renditions/${storageId}/` })).objects.length).toBeGreaterThan(0);
    // Re-rendered on its next request.
    expect((await deliver("swept/w=33,f=webp")).response.status).toBe(200);
  });
});

describe("on-demand renders", () => {
  it("are committed by the coordinator under the image's life", async () => {
    await json(await upload("lossyWebp", { id: "committed" }));
    const { life } = await waitForStatus("committed", ["ready"]);
    expect((await deliver("committed/w=77,f=png")).response.headers.get("x-image-source")).toBe("RENDERED");
    const storageId = await imageStorageId("committed");
    await eventually(async () => {
      const listed = await env.BUCKET.list({ prefix: `flexible/${storageId}/${life}/` });
      expect(listed.objects).toHaveLength(1);
    });
    expect((await coordinator("committed").snapshot()).life).toBe(life);
  });

  it("write their index row and their stats sample together, once: the coordinator writes both, the processor neither", async () => {
    await json(await upload("lossyWebp", { id: "sampled" }));
    const { life } = await waitForStatus("sampled", ["ready"]);
    const onDemandSamples = async () =>
      (await env.DB.prepare("SELECT count(*) AS n FROM pipeline_samples WHERE kind = 'render' AND detail = 'on-demand'").first<{ n: number }>())!.n;
    const before = await onDemandSamples();
    for (const w of [61, 62]) expect((await deliver(`sampled/w=${w},f=png`)).response.headers.get("x-image-source")).toBe("RENDERED");
    await eventually(async () => {
      const indexed = await env.DB.prepare("SELECT count(*) AS n FROM renditions WHERE image_id = ? AND life = ? AND variant IS NULL").bind("sampled", life).first<{ n: number }>();
      expect(indexed!.n).toBe(2);
      expect(await onDemandSamples()).toBe(before + 2);
    });
    // Nothing else comes later (a second writer would add a sample per render after the commit).
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await onDemandSamples()).toBe(before + 2);
  });

  it("say where their time went in Server-Timing: each lookup, the render, and the processor's original read and engine", async () => {
    await json(await upload("landscapeJpeg", { id: "timed" }));
    await waitForStatus("timed", ["ready"]);
    const steps = (response: Response) => (response.headers.get("server-timing") ?? "").split(", ").map((entry) => entry.split(";dur=")[0]);
    const rendered = await deliver("timed/w=91,f=webp", webp);
    expect(rendered.response.headers.get("x-image-source")).toBe("RENDERED");
    expect(steps(rendered.response)).toEqual(["edge", "cache", "r2", "limit", "render", "original", "engine"]);
    expect(rendered.response.headers.get("server-timing")).toMatch(/^(\w+;dur=\d+(\.\d)?(, )?)+$/);
    await eventually(async () => expect((await deliver("timed/w=91,f=webp", webp)).response.headers.get("x-image-source")).toBe("HIT"));
    // Served from the cache twice: the isolate's memory tier answers without a lookup.
    expect(steps((await deliver("timed/w=91,f=webp", webp)).response)).toEqual(["edge", "memory"]);
  });
});

describe("on-demand renders of one image, asked for together", () => {
  const onDemandSamples = async () =>
    (await env.DB.prepare("SELECT count(*) AS n FROM pipeline_samples WHERE kind = 'render' AND detail = 'on-demand'").first<{ n: number }>())!.n;

  /** What the gateway sends the coordinator for `w=<width>,f=webp` (and any other options) of an uploaded image. */
  async function renderRequest(id: string, options: string, change: Partial<Transform> = {}): Promise<RenderRequest> {
    const row = await env.DB.prepare("SELECT life, format, width, height, orientation, has_alpha AS hasAlpha FROM images WHERE id = ?").bind(id).first<any>();
    const transform = { ...parseFlexibleOptions(options), ...change };
    return {
      source: { imageId: id, life: row.life, storageId: await imageStorageId(id), format: row.format, width: row.width, height: row.height, orientation: row.orientation, hasAlpha: !!row.hasAlpha },
      transform,
      format: "webp",
      fingerprint: await transformFingerprint(transform),
      variant: null,
      requestId: `test-${options.replace(/[^0-9a-z]/g, "")}`,
    };
  }

  /** Asks the image's coordinator for every request in the same turn of its event loop, as a burst arriving at once. */
  const renderTogether = (id: string, requests: RenderRequest[]) =>
    runInDurableObject(coordinator(id), (instance: ImageCoordinator) => Promise.all(requests.map((r) => instance.render(r))));

  it("go to the processor together while one renders: one read and decode of the original for all, each answered its own output", async () => {
    await json(await upload("landscapeJpeg", { id: "batched" }));
    await waitForStatus("batched", ["ready"]);
    const before = await onDemandSamples();
    const widths = [121, 122, 123, 124, 125, 126, 127, 128];
    const requests = await Promise.all(widths.map((w) => renderRequest("batched", `w=${w}`)));
    // Asked for in one turn: the first goes alone, the seven that come while it renders go in the processor's next call.
    const answers = await renderTogether("batched", requests);
    answers.forEach((answer, i) => {
      expect(answer.ok, JSON.stringify(answer).slice(0, 200)).toBe(true);
      if (!answer.ok) return;
      expect(probeImage(answer.bytes)).toMatchObject({ format: "webp", width: widths[i] });
    });
    await eventually(async () => {
      const indexed = await env.DB.prepare("SELECT count(*) AS n FROM renditions WHERE image_id = 'batched' AND variant IS NULL").first<{ n: number }>();
      expect(indexed!.n).toBe(widths.length);
    });
    // One stats sample per call to the processor: two calls for eight outputs.
    expect(await onDemandSamples()).toBe(before + 2);
    // Stored, each is delivered as rendered.
    for (const [i, w] of widths.entries()) {
      const { response, bytes } = await deliver(`batched/w=${w},f=webp`, webp);
      expect(response.headers.get("x-image-source")).not.toBe("RENDERED");
      expect(bytes).toEqual(answers[i].ok && answers[i].bytes);
    }
  });

  it("keep an output that draws layers out of a call with outputs that do not", async () => {
    await json(await upload("alphaPng", { id: "batched-logo" }));
    await waitForStatus("batched-logo", ["ready"]);
    await json(await upload("landscapeJpeg", { id: "batched-marked" }));
    await waitForStatus("batched-marked", ["ready"]);
    const options = { fit: "scale-down", width: 200, height: 150, metadata: "none", format: "png", draw: [{ image: "batched-logo", width: 0.5 }] };
    await json(await api("/v1/variants", { method: "POST", ...jsonBody({ id: "batched-mark", options }) }));
    const named = (await listVariantTransforms(database(env.DB)))["batched-mark"];
    const plain = await renderRequest("batched-marked", "w=141");
    const marked: RenderRequest = { ...plain, transform: named.transform, fingerprint: named.fingerprint, variant: "batched-mark", format: "png" };
    const before = await onDemandSamples();
    // The first goes alone; of the three that wait, the drawn one goes alone too, then the two plain ones together.
    const answers = await renderTogether("batched-marked", [plain, marked, await renderRequest("batched-marked", "w=142"), await renderRequest("batched-marked", "w=143")]);
    expect(answers.map((a) => a.ok)).toEqual([true, true, true, true]);
    await eventually(async () => expect(await onDemandSamples()).toBe(before + 3));
  });

  it("answer an output over a limit with its error, and the others of its call with their bytes", async () => {
    await json(await upload("landscapeJpeg", { id: "batched-limit" }));
    await waitForStatus("batched-limit", ["ready"]);
    const requests = [
      await renderRequest("batched-limit", "w=131"),
      await renderRequest("batched-limit", "w=132"),
      await renderRequest("batched-limit", "w=133", { quality: 0 }), // the engine refuses it: quality must be 1..100
      await renderRequest("batched-limit", "w=134"),
    ];
    const answers = await renderTogether("batched-limit", requests);
    expect(answers.map((a) => a.ok)).toEqual([true, true, false, true]);
    const refused = answers[2];
    expect(refused.ok === false && refused.message).toContain("quality must be 1..100");
    expect(refused.ok === false && refused.status).toBeGreaterThanOrEqual(400);
    expect(refused.ok === false && refused.status).toBeLessThan(500);
    answers.forEach((a, i) => a.ok && expect(probeImage(a.bytes)).toMatchObject({ width: 131 + i }));
  });

  it("are refused with 503 and Retry-After, not queued without end, past 64 waiting for one image", async () => {
    await json(await upload("landscapeJpeg", { id: "batched-flood" }));
    await waitForStatus("batched-flood", ["ready"]);
    const requests = await Promise.all(Array.from({ length: 70 }, (_, i) => renderRequest("batched-flood", `w=${200 + i}`)));
    const answers = await renderTogether("batched-flood", requests);
    // The first is with the processor, 64 wait behind it; the last five find the queue full.
    const refused = answers.filter((a) => !a.ok);
    expect(refused).toHaveLength(5);
    for (const a of refused) expect(a).toMatchObject({ status: 503, retryAfter: 2 });
    expect(answers.slice(0, 65).every((a) => a.ok)).toBe(true);
  });
});

describe("read replicas", () => {
  /** A D1 whose replicas lag: every unconstrained session sees an empty database; the primary sees it all. */
  const laggingReplicas = () => {
    const sessions: string[] = [];
    const empty = {
      prepare: () => {
        const statement = { bind: () => statement, all: async () => ({ results: [] }), raw: async () => [], first: async () => null, run: async () => ({}) };
        return statement;
      },
      batch: async () => [],
      getBookmark: () => null,
    };
    const d1 = {
      withSession(constraint: string) {
        sessions.push(constraint);
        return constraint === "first-primary" ? env.DB.withSession(constraint) : empty;
      },
    };
    return { d1: d1 as unknown as D1Database, sessions };
  };

  it("a delivery right after an upload is not answered 404 because a replica has not seen the image yet", async () => {
    await json(await upload("gif", { id: "replica-lag" }));
    const { d1, sessions } = laggingReplicas();
    const delivered = await gatewayWith({ DB: d1 }, `${DELIVERY}/replica-lag/w=20,f=png`, { headers: { "cf-connecting-ip": "192.0.2.9" } });
    expect(delivered.status).toBe(200);
    // It asked the nearest replica first, then believed its "not found" only after the primary confirmed it.
    expect(sessions).toContain("first-unconstrained");
    expect(sessions).toContain("first-primary");
  });

  it("a variant created moments ago is found at the primary when a lagging replica does not know it", async () => {
    await json(await api("/v1/variants", { method: "POST", ...jsonBody({ id: "replica-new", options: { fit: "scale-down", width: 30, height: 30 } }) }));
    await json(await upload("gif", { id: "replica-variant" }));
    const { d1 } = laggingReplicas();
    const delivered = await gatewayWith({ DB: d1 }, `${DELIVERY}/replica-variant/replica-new`, { headers: { "cf-connecting-ip": "192.0.2.10" } });
    expect(delivered.status).toBe(200);
    const { d1: again } = laggingReplicas();
    expect((await gatewayWith({ DB: again }, `${DELIVERY}/replica-variant/no-such-variant`)).status).toBe(404);
  });

  it("an id that really does not exist is 404 after the primary confirms it", async () => {
    const { d1, sessions } = laggingReplicas();
    expect((await gatewayWith({ DB: d1 }, `${DELIVERY}/never-uploaded/public`)).status).toBe(404);
    expect(sessions).toContain("first-primary");
  });
});
