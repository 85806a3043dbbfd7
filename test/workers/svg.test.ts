import { env } from "cloudflare:test";
import { describe, expect, inject, it } from "vitest";
import { ingestIncoming } from "../../workers/processor/direct-uploads.ts";
import { imageStorageId, incomingKey, originalKey } from "../../workers/shared/storage.ts";
import type { SourceStats } from "../fixtures/source-server-context.ts";
import { API, AUTH, api, coordinator, deliver, fixture, gatewayWith, json, jsonBody, upload, waitForStatus } from "./helpers.ts";

const { origin } = inject("sourceServer");
const realFetch = globalThis.fetch;
const sourceStats = async () => (await (await realFetch(`${origin}/stats`)).json()) as SourceStats;

const CSP = "default-src 'none'; style-src 'unsafe-inline'";
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

async function storedOriginal(id: string): Promise<string> {
  const row = await env.DB.prepare("SELECT life FROM images WHERE id = ?").bind(id).first<{ life: string }>();
  const object = await env.BUCKET.get(originalKey({ storageId: await imageStorageId(id), life: row!.life }));
  return object!.text();
}

function svgForm(svg: string): FormData {
  const form = new FormData();
  form.append("file", new File([svg], "drawing.svg"));
  return form;
}

describe("SVG through upload, queue and delivery", () => {
  it("an SVG with a script is stored sanitised, renders a w=200 WebP, and f=svg answers the sanitised SVG with a CSP", async () => {
    const uploaded = await json(await upload("scriptedSvg", { id: "drawing" }));
    expect(uploaded.result.id).toBe("drawing");
    const stored = await storedOriginal("drawing");
    expect(stored).not.toMatch(/script|onload|alert|127\.0\.0\.1|evil/);
    expect(stored).toContain('<circle cx="200" cy="150" r="100" fill="#ff8c00"/>');
    await waitForStatus("drawing", ["ready"]);

    const webp = await deliver("drawing/w=200,f=webp");
    expect(webp.response.headers.get("content-type")).toBe("image/webp");
    expect(webp.header).toMatchObject({ format: "webp", width: 200, height: 150 });

    const svg = await deliver("drawing/w=200,f=svg");
    expect(svg.response.status).toBe(200);
    expect(svg.response.headers.get("content-type")).toBe("image/svg+xml");
    expect(svg.response.headers.get("content-security-policy")).toBe(CSP);
    expect(svg.response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(text(svg.bytes)).toBe(stored);

    // The original through the API is the same sanitised document, with the same protection.
    const blob = await api("/v1/drawing/blob");
    expect(blob.headers.get("content-type")).toBe("image/svg+xml");
    expect(blob.headers.get("content-security-policy")).toBe(CSP);
    expect(await blob.text()).toBe(stored);
  });

  it("f=auto and named variants rasterise: WebP for a browser, PNG (it may be transparent) for a client taking neither AVIF nor WebP", async () => {
    await json(await upload("scriptedSvg", { id: "drawing-auto" }));
    await waitForStatus("drawing-auto", ["ready"]);
    expect((await deliver("drawing-auto/w=120", { accept: "image/webp,*/*" })).header).toMatchObject({ format: "webp", width: 120, height: 90 });
    expect((await deliver("drawing-auto/public", { accept: "image/png" })).header).toMatchObject({ format: "png" });
  });

  it("an SVG with external references never makes the platform fetch them", async () => {
    const before = (await sourceStats()).hits["/svg-tracker.png"] ?? 0;
    const hostile = `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="64" height="64">` +
      `<image href="${origin}/svg-tracker.png" width="64" height="64"/><use xlink:href="${origin}/svg-tracker.png#a"/>` +
      `<rect width="64" height="64" fill="url(${origin}/svg-tracker.png#p)" style="stroke:url('${origin}/svg-tracker.png')"/>` +
      `<style>@import url(${origin}/svg-tracker.png);</style></svg>`;
    await json(await api("/v1", { method: "POST", body: (() => { const f = svgForm(hostile); f.append("id", "tracker"); return f; })() }));
    await waitForStatus("tracker", ["ready"]);
    expect((await deliver("tracker/w=32,f=png")).header).toMatchObject({ format: "png", width: 32, height: 32 });
    expect(text((await deliver("tracker/f=svg")).bytes)).not.toContain(origin);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await sourceStats()).hits["/svg-tracker.png"] ?? 0).toBe(before);
  });

  it("refuses text that is not SVG (415), a malformed SVG (422), entity declarations (415) and an SVG over MAX_SVG_BYTES (413), each by name", async () => {
    const refused = async (response: Response, status: number, message: RegExp) => {
      const body = await json(response, status);
      expect(body.errors[0].message).toMatch(message);
    };
    await refused(await api("/v1", { method: "POST", body: svgForm("<html><body>hi</body></html>") }), 415, /expected JPEG, PNG, GIF, WebP, AVIF, HEIC or SVG/);
    await refused(await api("/v1", { method: "POST", body: svgForm('<svg xmlns="http://www.w3.org/2000/svg"><g></svg>') }), 422, /not well-formed XML/);
    const xxe = '<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg xmlns="http://www.w3.org/2000/svg"><text>&x;</text></svg>';
    await refused(await api("/v1", { method: "POST", body: svgForm(xxe) }), 415, /no XXE or entity expansion/);
    const big = `<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">${"<g/>".repeat(300)}</svg>`;
    await refused(await gatewayWith({ MAX_SVG_BYTES: "1000" }, `${API}/v1`, { method: "POST", headers: AUTH, body: svgForm(big) }), 413, /MAX_SVG_BYTES/);
  });

  it("f=svg of an image that is not an SVG is negotiated as f=auto", async () => {
    await json(await upload("landscapeJpeg", { id: "not-a-drawing" }));
    await waitForStatus("not-a-drawing", ["ready"]);
    const { response } = await deliver("not-a-drawing/w=100,f=svg", { accept: "image/webp" });
    expect(response.headers.get("content-type")).toBe("image/webp");
    expect(response.headers.get("content-security-policy")).toBeNull();
  });

  it("a direct-to-R2 SVG is sanitised on its way to originals/, and its record gives the stored size", async () => {
    await json(await api("/v2/direct_upload", { method: "POST", ...jsonBody({ id: "direct-drawing" }) }));
    const image = { storageId: await imageStorageId("direct-drawing"), life: (await coordinator("direct-drawing").snapshot()).life };
    const put = await env.BUCKET.put(incomingKey(image), fixture("scriptedSvg"));
    const notification = {
      account: "test-account", action: "PutObject", bucket: "images-test",
      object: { key: incomingKey(image), size: put!.size, eTag: put!.etag }, eventTime: new Date().toISOString(),
    };
    expect(await ingestIncoming(env, notification)).toBe("accepted");
    const stored = await storedOriginal("direct-drawing");
    expect(stored).not.toMatch(/script|onload|127\.0\.0\.1/);
    const row = await env.DB.prepare("SELECT format, width, height, bytes FROM images WHERE id = ?").bind("direct-drawing").first();
    expect(row).toEqual({ format: "svg", width: 400, height: 300, bytes: new TextEncoder().encode(stored).length });
    expect(await waitForStatus("direct-drawing", ["ready", "failed"])).toMatchObject({ status: "ready" });
  });
});
