// Our libwebp build (wasm/native/webp-scaled) runs in workerd: a lossy WebP uploaded through the API is decoded
// straight to half size by it, and its eager variants are delivered.
import { describe, expect, it, vi } from "vitest";
import { captureLogLines, deliver, json, upload, waitForStatus } from "./helpers.ts";

/** The JSON log lines written while a test runs (console.log, warn and error). */
const lines = captureLogLines();

describe("lossy WebP through the platform", () => {
  it("is decoded at 1/2 by the scaled decoder, and its public variant is delivered in WebP and JPEG", async () => {
    await json(await upload("largeLossyWebp", { id: "large-lossy-webp" }));
    expect(await waitForStatus("large-lossy-webp", ["ready", "failed"])).toMatchObject({ status: "ready" });
    await vi.waitFor(() => expect(lines.filter((l) => l.event === "render" && l.imageId === "large-lossy-webp")).toHaveLength(1));
    const render = lines.find((l) => l.event === "render" && l.imageId === "large-lossy-webp")!;
    expect(render).toMatchObject({ outcome: "ok", decoder: "webp-scaled", scale: 2 });
    const webp = await deliver("large-lossy-webp/public", { accept: "image/webp" });
    expect(webp.response.status).toBe(200);
    expect(webp.header).toMatchObject({ format: "webp", width: 1024, height: 768 });
    const jpeg = await deliver("large-lossy-webp/public", { accept: "image/jpeg" });
    expect(jpeg.header).toMatchObject({ format: "jpeg", width: 1024, height: 768 });
  });
});
