import { env, runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { ImageCoordinator } from "../../workers/gateway/coordinator.ts";
import { API, AUTH, api, coordinator, fileForm, gatewayWith, json, upload } from "./helpers.ts";

const MAX_UPLOAD_BYTES = Number(env.MAX_UPLOAD_BYTES);
const FORM_ALLOWANCE = 64 * 1024;
const SMALL_LIMIT = 64 * 1024;
const CHUNK = 64 * 1024;
const BOUNDARY = "bounded-body-test";
const MULTIPART = `multipart/form-data; boundary=${BOUNDARY}`;

/**
 * A request body that never ends (`head`, then chunks of filler for as long as anyone reads), and how many bytes
 * the server pulled from it. A reader that buffered whole bodies would never answer.
 */
function endlessBody(head: string) {
  const meter = { pulled: 0 };
  const filler = new Uint8Array(CHUNK).fill(0x61);
  let first = true;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      const chunk = first ? new TextEncoder().encode(head) : filler;
      first = false;
      meter.pulled += chunk.length;
      controller.enqueue(chunk);
    },
  });
  return { stream, meter };
}

/** The start of a multipart form whose file field never ends. */
const endlessFileHead = `--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\nContent-Type: image/png\r\n\r\n`;

/** The bytes a bounded read may pull past its limit: the chunk that crossed it, and what the pipe holds. */
const SLACK = 4 * CHUNK;

describe("request bodies are bounded while they stream", () => {
  it("cuts an endless chunked upload off at MAX_UPLOAD_BYTES plus the form allowance, with 413", async () => {
    const { stream, meter } = endlessBody(endlessFileHead);
    const response = await api("/v1", { method: "POST", body: stream, headers: { "content-type": MULTIPART } });
    const body = await json(response, 413);
    expect(body.errors[0].message).toBe(
      "request body is larger than the limit of 10.1 MB for an upload (10.0 MB for the file, MAX_UPLOAD_BYTES, plus 64 KiB for the form)",
    );
    expect(meter.pulled).toBeGreaterThan(MAX_UPLOAD_BYTES);
    expect(meter.pulled).toBeLessThan(MAX_UPLOAD_BYTES + FORM_ALLOWANCE + SLACK);
  });

  it("refuses a declared Content-Length over the limit without reading the body", async () => {
    const response = await api("/v1", { method: "POST", body: new Uint8Array(11 * 1024 * 1024), headers: { "content-type": MULTIPART } });
    expect((await json(response, 413)).errors[0].message).toMatch(/^request body is 11\.0 MB; the limit is 10\.1 MB for an upload/);
  });

  it("cuts JSON bodies of image edits, variants and direct-upload creation at 64 KiB", async () => {
    await json(await upload("gif", { id: "bounded-edit" }));
    const routes = [
      ["PATCH", "/v1/bounded-edit"],
      ["POST", "/v1/variants"],
      ["PATCH", "/v1/variants/public"],
      ["POST", "/v2/direct_upload"],
    ];
    for (const [method, path] of routes) {
      const { stream, meter } = endlessBody('{"metadata":{"note":"');
      const response = await api(path, { method, body: stream, headers: { "content-type": "application/json" } });
      const body = await json(response, 413);
      expect(body.errors[0].message, path).toBe("request body is larger than the limit of 64 KiB for a JSON body");
      expect(meter.pulled, path).toBeLessThan(SMALL_LIMIT + SLACK);
    }
  });

  it("cuts a direct-upload creation form at 64 KiB", async () => {
    const { stream, meter } = endlessBody(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n`);
    const response = await api("/v2/direct_upload", { method: "POST", body: stream, headers: { "content-type": MULTIPART } });
    expect((await json(response, 413)).errors[0].message).toBe("request body is larger than the limit of 64 KiB for a form body");
    expect(meter.pulled).toBeLessThan(SMALL_LIMIT + SLACK);
  });

  it("answers 408 when the body does not arrive within UPLOAD_BODY_TIMEOUT_SECONDS", async () => {
    // The form starts, then nothing more comes.
    let sent = false;
    const stalled = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent) return new Promise(() => {});
        sent = true;
        controller.enqueue(new TextEncoder().encode(endlessFileHead));
      },
    });
    const started = Date.now();
    const response = await gatewayWith({ UPLOAD_BODY_TIMEOUT_SECONDS: "1" }, `${API}/v1`, {
      method: "POST",
      body: stalled,
      headers: { ...AUTH, "content-type": MULTIPART },
    });
    const body = await json(response, 408);
    expect(body.errors[0]).toEqual({ code: 5408, message: "the request body did not arrive within 1 s (UPLOAD_BODY_TIMEOUT_SECONDS)" });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("answers 408 when a body of declared length stops arriving, and 400 when it ends short", async () => {
    // A declared length within the limit is read by a native pipe (the runtime ends the body there); the deadline
    // still holds, and a body shorter than it said is not taken for a whole one.
    const head = new TextEncoder().encode(endlessFileHead);
    const declared = (then: "stall" | "end") => {
      let sent = false;
      return new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent) return then === "stall" ? new Promise(() => {}) : controller.close();
          sent = true;
          controller.enqueue(head);
        },
      });
    };
    const length = head.length + 100_000;
    const send = (body: ReadableStream) =>
      gatewayWith({ UPLOAD_BODY_TIMEOUT_SECONDS: "1" }, `${API}/v1`, {
        method: "POST",
        body,
        headers: { ...AUTH, "content-type": MULTIPART, "content-length": String(length) },
      });
    const started = Date.now();
    const stalled = await send(declared("stall"));
    expect((await json(stalled, 408)).errors[0].message).toBe("the request body did not arrive within 1 s (UPLOAD_BODY_TIMEOUT_SECONDS)");
    expect(Date.now() - started).toBeLessThan(5000);
    const short = await send(declared("end"));
    expect((await json(short, 400)).errors[0].message).toBe("the multipart body could not be parsed");
  });

  it("still reads bodies within the limits", async () => {
    const patched = await json(
      await api("/v1/bounded-edit", { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify({ creator: "x".repeat(1000) }) }),
    );
    expect(patched.result.creator).toHaveLength(1000);
    const empty = await json(await api("/v1/bounded-edit", { method: "PATCH", headers: { "content-type": "application/json" } }), 400);
    expect(empty.errors[0].message).toBe("expected a JSON object body");
  });
});

describe("one-time upload URL: the token is checked before the body is read", () => {
  async function draft(id: string): Promise<string> {
    const form = new FormData();
    form.append("id", id);
    return (await json(await api("/v2/direct_upload", { method: "POST", body: form }))).result.uploadURL;
  }

  const postEndless = (url: string) => {
    const { stream, meter } = endlessBody(endlessFileHead);
    return { meter, response: SELF.fetch(url, { method: "POST", body: stream, headers: { "content-type": MULTIPART } }) };
  };

  it("answers a wrong token 404 without reading the body", async () => {
    const uploadURL = await draft("token-first-wrong");
    const { meter, response } = postEndless(uploadURL.replace(/[0-9a-f]{8}$/, "00000000"));
    expect((await json(await response, 404)).errors[0].message).toBe("this upload URL is not valid");
    expect(meter.pulled).toBeLessThan(SLACK);
  });

  it("answers an upload URL for an unknown image 404 without reading the body", async () => {
    const { meter, response } = postEndless(`https://images.test/upload/no-such-image/${"0".repeat(64)}`);
    expect((await json(await response, 404)).errors[0].message).toBe("this upload URL is not valid");
    expect(meter.pulled).toBeLessThan(SLACK);
  });

  it("answers an expired URL 410 without reading the body", async () => {
    const uploadURL = await draft("token-first-expired");
    await runInDurableObject(coordinator("token-first-expired"), async (instance: ImageCoordinator) => {
      (instance as any).state.upload.expiresAt = Date.now() - 1;
    });
    const { meter, response } = postEndless(uploadURL);
    expect((await json(await response, 410)).errors[0].message).toBe("this upload URL has expired");
    expect(meter.pulled).toBeLessThan(SLACK);
  });

  it("answers a used URL 409 without reading the body", async () => {
    const uploadURL = await draft("token-first-used");
    await json(await SELF.fetch(uploadURL, { method: "POST", body: fileForm("gif") }));
    const { meter, response } = postEndless(uploadURL);
    expect((await json(await response, 409)).errors[0].message).toBe("this upload URL has already been used");
    expect(meter.pulled).toBeLessThan(SLACK);
  });

  it("cuts an endless body off with 413 and keeps the URL for a good file", async () => {
    const uploadURL = await draft("token-first-oversized");
    const { meter, response } = postEndless(uploadURL);
    expect((await json(await response, 413)).errors[0].message).toContain("MAX_UPLOAD_BYTES");
    expect(meter.pulled).toBeLessThan(MAX_UPLOAD_BYTES + FORM_ALLOWANCE + SLACK);
    const good = await json(await SELF.fetch(uploadURL, { method: "POST", body: fileForm("gif") }));
    expect(good.result.id).toBe("token-first-oversized");
  });
});
