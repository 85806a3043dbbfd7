import { describe, expect, it } from "vitest";
import { ispe, muxHeif } from "../fixtures/heic/heif-mux.ts";
import { api, deliver, fixture, json, upload, waitForStatus } from "./helpers.ts";

// The fixture is an iPhone-style portrait: HEVC tiles in a grid stored 100×64, irot 270 and EXIF orientation 6
// (which say the same turn), shown 64×100 (test/fixtures/heic/README.md).
describe("HEIC through upload, queue, engine and delivery", () => {
  it("is accepted and processed, and its original is served as stored, as image/heic", async () => {
    const created = await json<{ result: { id: string } }>(await upload("heic", { id: "heic-original" }));
    expect(created.result.id).toBe("heic-original");
    await waitForStatus("heic-original", ["ready"]);
    const blob = await api("/v1/heic-original/blob");
    expect(blob.status).toBe(200);
    expect(blob.headers.get("content-type")).toBe("image/heic");
    expect(new Uint8Array(await blob.arrayBuffer())).toEqual(fixture("heic"));
  });

  it("renders the eager WebP and JPEG of a named variant turned once (irot), not twice (irot and EXIF)", async () => {
    await json(await upload("heic", { id: "heic-portrait" }));
    await waitForStatus("heic-portrait", ["ready"]);
    const webp = await deliver("heic-portrait/public", { accept: "image/webp" });
    expect(webp.response.headers.get("content-type")).toBe("image/webp");
    expect([webp.header!.width, webp.header!.height]).toEqual([64, 100]);
    const jpeg = await deliver("heic-portrait/public", { accept: "image/jpeg" });
    expect(jpeg.response.headers.get("content-type")).toBe("image/jpeg");
    expect([jpeg.header!.width, jpeg.header!.height]).toEqual([64, 100]);
  });

  it("negotiates f=auto as for a JPEG original: WebP where accepted, else JPEG, in the oriented size", async () => {
    await json(await upload("heic", { id: "heic-flexible" }));
    await waitForStatus("heic-flexible", ["ready"]);
    const webp = await deliver("heic-flexible/w=32,f=auto", { accept: "image/webp,*/*" });
    expect(webp.response.headers.get("content-type")).toBe("image/webp");
    expect([webp.header!.width, webp.header!.height]).toEqual([32, 50]);
    const jpeg = await deliver("heic-flexible/w=32,f=auto", { accept: "*/*" });
    expect(jpeg.response.headers.get("content-type")).toBe("image/jpeg");
    expect([jpeg.header!.width, jpeg.header!.height]).toEqual([32, 50]);
  });

  it("refuses at upload, with 413 naming the budget, a 12 MP single-image HEIC (libheif decodes it whole)", async () => {
    // The header is what admission reads: one HEVC item of 4032×3024, not a grid.
    const single = muxHeif({ primary: 1, items: [{ id: 1, type: "hvc1", data: new Uint8Array(64), properties: [ispe(4032, 3024)] }], refs: [] });
    const form = new FormData();
    form.append("file", new File([single], "single.heic"));
    form.append("id", "heic-single-12mp");
    const body = await json(await api("/v1", { method: "POST", body: form }), 413);
    expect(body.errors[0].message).toMatch(/this 4032×3024 heic cannot be rendered within the 96 MB memory budget \(MEMORY_BUDGET_MB\): its variants need \d+ MB, peak at decode \(libheif/);
    await json(await api("/v1/heic-single-12mp"), 404);
  });
});
