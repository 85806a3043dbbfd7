// An upload whose eager variants cannot be rendered within the memory budget is refused at once, from its header,
// on both upload paths: never accepted and failed later.
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ingestIncoming } from "../../workers/processor/direct-uploads.ts";
import { imageStorageId, incomingKey } from "../../workers/shared/storage.ts";
import { api, coordinator, deliver, fixture, json, jsonBody, upload, waitForStatus } from "./helpers.ts";

/**
 * A 100 MP AVIF (the small AVIF fixture with its `ispe` box saying 12000×8333): AVIF decodes at full size only,
 * so its eager variants cannot fit. (The 24 MP panorama WebP of issue 9 fits now, as lossless: it streams.)
 */
function hugeAvif(): Uint8Array {
  const out = fixture("avif");
  const at = new TextDecoder("latin1").decode(out).indexOf("ispe");
  const v = new DataView(out.buffer, out.byteOffset);
  v.setUint32(at + 8, 12000); // after the type and the version/flags word
  v.setUint32(at + 12, 8333);
  return out;
}

const refusal = /this 12000×8333 avif cannot be rendered within the 96 MB memory budget \(MEMORY_BUDGET_MB\): its variants need \d+ MB, peak at decode/;

describe("admission by the memory budget", () => {
  it("refuses a multipart upload with 413 naming the budget, and stores nothing", async () => {
    const form = new FormData();
    form.append("file", new File([hugeAvif()], "huge.avif"));
    form.append("id", "huge");
    const body = await json(await api("/v1", { method: "POST", body: form }), 413);
    expect(body.errors[0].message).toMatch(refusal);
    await json(await api("/v1/huge"), 404);
  });

  it("ends a direct-to-R2 upload failed at once, with the same reason, before it is accepted", async () => {
    await json(await api("/v2/direct_upload", { method: "POST", ...jsonBody({ id: "huge-put" }) }));
    const key = incomingKey({ storageId: await imageStorageId("huge-put"), life: (await coordinator("huge-put").snapshot()).life });
    const object = await env.BUCKET.put(key, hugeAvif());
    const outcome = await ingestIncoming(env, {
      account: "test-account", action: "PutObject", bucket: "images-test",
      object: { key, size: object!.size, eTag: object!.etag }, eventTime: new Date().toISOString(),
    });
    expect(outcome).toBe("failed");
    expect((await coordinator("huge-put").snapshot()).error).toMatch(refusal);
    expect(await env.BUCKET.head(key)).toBeNull();
  });

  it("accepts the 24 MP panorama as a lossless WebP: it renders ready through our streaming decoder, and is delivered", async () => {
    await json(await upload("panoramaLosslessWebp", { id: "panorama-lossless" }));
    expect(await waitForStatus("panorama-lossless", ["ready", "failed"], 90_000)).toMatchObject({ status: "ready" });
    const webp = await deliver("panorama-lossless/public", { accept: "image/webp,*/*" });
    expect(webp.header).toMatchObject({ format: "webp", width: 1366, height: 264 });
  }, 120_000);

  it("accepts what fits, and it renders ready", async () => {
    const form = new FormData();
    form.append("file", new File([fixture("alphaPng")], "small.png"));
    form.append("id", "fits");
    await json(await api("/v1", { method: "POST", body: form }));
    expect(await waitForStatus("fits", ["ready", "failed"])).toMatchObject({ status: "ready" });
  });
});
