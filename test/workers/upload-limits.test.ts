import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { api, fileForm, fixture, gatewayWith, json, jsonBody, waitForStatus } from "./helpers.ts";

/** A direct upload whose URL carries limits (our extension of `POST /v2/direct_upload`). */
async function limitedUrl(id: string, limits: Record<string, unknown>): Promise<{ uploadURL: string; limits: unknown }> {
  return (await json(await api("/v2/direct_upload", { method: "POST", ...jsonBody({ id, ...limits }) }))).result;
}

const refusal = async (response: Response, status: number) => (await json(response, status)).errors[0].message as string;

describe("upload URLs that carry their own limits", () => {
  it("refuses a file over maxBytes, naming it, and stays usable for a file within it", async () => {
    const small = fixture("gif").length;
    const large = fixture("landscapeJpeg").length;
    expect(large).toBeGreaterThan(small);
    const { uploadURL, limits } = await limitedUrl("limit-bytes", { maxBytes: small });
    expect(limits).toEqual({ maxBytes: small });
    const message = await refusal(await SELF.fetch(uploadURL, { method: "POST", body: fileForm("landscapeJpeg") }), 413);
    expect(message).toContain(`at most ${small} bytes (maxBytes)`);
    await json(await SELF.fetch(uploadURL, { method: "POST", body: fileForm("gif") }));
    expect(await waitForStatus("limit-bytes", ["ready", "failed"])).toMatchObject({ status: "ready" });
  });

  it("refuses a declared Content-Length over maxBytes before reading the body", async () => {
    const { uploadURL } = await limitedUrl("limit-declared", { maxBytes: 1000 });
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(new Uint8Array(64 * 1024));
        if (pulled > 64) controller.close();
      },
    });
    const response = await SELF.fetch(uploadURL, {
      method: "POST",
      body,
      headers: { "content-type": "multipart/form-data; boundary=x", "content-length": String(4 * 1024 * 1024) },
      duplex: "half",
    } as RequestInit);
    expect(await refusal(response, 413)).toContain("(maxBytes)");
  });

  it("refuses a format the URL does not take, naming the list", async () => {
    const { uploadURL } = await limitedUrl("limit-formats", { formats: ["png", "webp"] });
    const message = await refusal(await SELF.fetch(uploadURL, { method: "POST", body: fileForm("landscapeJpeg") }), 415);
    expect(message).toBe("this upload URL takes png, webp (formats); the file is jpeg");
    await json(await SELF.fetch(uploadURL, { method: "POST", body: fileForm("alphaPng") }));
  });

  it("refuses an image over maxMegapixels from its header", async () => {
    const { uploadURL } = await limitedUrl("limit-pixels", { maxMegapixels: 0.1 });
    const message = await refusal(await SELF.fetch(uploadURL, { method: "POST", body: fileForm("landscapeJpeg") }), 413);
    expect(message).toBe("image is 0.3 megapixels; this upload URL allows at most 0.1 (maxMegapixels)");
  });

  it("takes the limits as form fields too (decimal text, a comma-separated list)", async () => {
    const form = new FormData();
    form.append("id", "limit-form");
    form.append("maxBytes", "5000");
    form.append("maxMegapixels", "2.5");
    form.append("formats", "jpg, gif");
    const created = await json(await api("/v2/direct_upload", { method: "POST", body: form }));
    expect(created.result.limits).toEqual({ maxBytes: 5000, maxMegapixels: 2.5, formats: ["jpeg", "gif"] });
  });

  it("only tightens the account's limits, and refuses malformed ones by name", async () => {
    const refused = async (limits: Record<string, unknown>) =>
      refusal(await api("/v2/direct_upload", { method: "POST", ...jsonBody(limits) }), 400);
    expect(await refused({ maxBytes: 10485761 })).toContain("can only tighten the account's limit of 10485760 bytes (MAX_UPLOAD_BYTES)");
    expect(await refused({ maxMegapixels: 101 })).toContain("can only tighten the account's limit of 100 megapixels (MAX_PIXELS)");
    expect(await refused({ maxBytes: "0x10" })).toContain("maxBytes must be a whole number");
    expect(await refused({ maxMegapixels: -1 })).toContain("maxMegapixels must be a positive number");
    expect(await refused({ formats: ["jpeg", "tiff"] })).toContain('not accepted: "tiff"');
    expect(await refused({ formats: [] })).toContain("an empty list");
  });
});

describe("uploads received at once", () => {
  it("are read and stored UPLOAD_CONCURRENCY at a time per isolate: the next waits for a slot, then goes through", async () => {
    const serialized = async (name: "landscapeJpeg" | "gif", id: string) => {
      const form = fileForm(name);
      form.set("id", id);
      const encoded = new Response(form);
      return { bytes: new Uint8Array(await encoded.arrayBuffer()), type: encoded.headers.get("content-type")! };
    };
    const url = "http://gateway.test/client/v4/accounts/test-account/images/v1";
    const headers = (type: string) => ({ authorization: "Bearer test-token", "content-type": type });
    const only = { UPLOAD_CONCURRENCY: "1" };

    // The first upload holds the one slot while its body is half sent.
    const first = await serialized("landscapeJpeg", "gate-first");
    let finishFirst!: () => void;
    const rest = new Promise<void>((resolve) => (finishFirst = resolve));
    const half = first.bytes.length >> 1;
    const slowBody = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(first.bytes.subarray(0, half));
        await rest;
        controller.enqueue(first.bytes.subarray(half));
        controller.close();
      },
    });
    const holding = gatewayWith(only, url, { method: "POST", body: slowBody, headers: headers(first.type), duplex: "half" } as RequestInit);
    await new Promise((r) => setTimeout(r, 100));

    const second = await serialized("gif", "gate-second");
    let secondDone = false;
    const waiting = gatewayWith(only, url, { method: "POST", body: second.bytes, headers: headers(second.type) }).then((r) => ((secondDone = true), r));
    await new Promise((r) => setTimeout(r, 300));
    expect(secondDone).toBe(false);

    finishFirst();
    expect((await holding).status).toBe(200);
    expect((await waiting).status).toBe(200);
    expect(await waitForStatus("gate-second", ["ready", "failed"])).toMatchObject({ status: "ready" });
  });
});
