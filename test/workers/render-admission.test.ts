// An upload whose eager variants cannot be rendered within the memory budget is refused at once, from its header,
// on both upload paths: never accepted and failed later.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ingestIncoming } from "../../workers/processor/direct-uploads.ts";
import { imageStorageId, incomingKey } from "../../workers/shared/storage.ts";
import { api, coordinator, fixture, json, jsonBody, waitForStatus } from "./helpers.ts";

/** The header of the 24 MP panorama WebP (11158×2156) of issue 9: RIFF, VP8X with its canvas, a VP8L chunk header. */
function panoramaWebpHeader(): Uint8Array {
  const [width, height] = [11158, 2156];
  const out = new Uint8Array(43);
  const v = new DataView(out.buffer);
  out.set(new TextEncoder().encode("RIFF"), 0);
  v.setUint32(4, 35, true);
  out.set(new TextEncoder().encode("WEBPVP8X"), 8);
  v.setUint32(16, 10, true);
  const w = width - 1, h = height - 1;
  out.set([w & 255, (w >> 8) & 255, w >> 16, h & 255, (h >> 8) & 255, h >> 16], 24);
  out.set(new TextEncoder().encode("VP8L"), 30);
  v.setUint32(34, 5, true);
  out[38] = 0x2f;
  v.setUint32(39, ((width - 1) & 0x3fff) | (((height - 1) & 0x3fff) << 14), true);
  return out;
}

const refusal = /this 11158×2156 webp cannot be rendered within the 96 MB memory budget \(MEMORY_BUDGET_MB\): its variants need \d+ MB, peak at decode/;

describe("admission by the memory budget", () => {
  it("refuses a multipart upload with 413 naming the budget, and stores nothing", async () => {
    const form = new FormData();
    form.append("file", new File([panoramaWebpHeader()], "panorama.webp"));
    form.append("id", "panorama");
    const body = await json(await api("/v1", { method: "POST", body: form }), 413);
    expect(body.errors[0].message).toMatch(refusal);
    await json(await api("/v1/panorama"), 404);
  });

  it("ends a direct-to-R2 upload failed at once, with the same reason, before it is accepted", async () => {
    await json(await api("/v2/direct_upload", { method: "POST", ...jsonBody({ id: "panorama-put" }) }));
    const key = incomingKey({ storageId: await imageStorageId("panorama-put"), life: (await coordinator("panorama-put").snapshot()).life });
    const object = await env.BUCKET.put(key, panoramaWebpHeader());
    const outcome = await ingestIncoming(env, {
      account: "test-account", action: "PutObject", bucket: "images-test",
      object: { key, size: object!.size, eTag: object!.etag }, eventTime: new Date().toISOString(),
    });
    expect(outcome).toBe("failed");
    expect((await coordinator("panorama-put").snapshot()).error).toMatch(refusal);
    expect(await env.BUCKET.head(key)).toBeNull();
  });

  it("accepts what fits, and it renders ready", async () => {
    const form = new FormData();
    form.append("file", new File([fixture("alphaPng")], "small.png"));
    form.append("id", "fits");
    await json(await api("/v1", { method: "POST", body: form }));
    expect(await waitForStatus("fits", ["ready", "failed"])).toMatchObject({ status: "ready" });
  });
});
