import { env, runInDurableObject, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { ImageCoordinator } from "../../workers/gateway/coordinator.ts";
import { parseStatusEvents } from "../fixtures/events.ts";
import { API, api, coordinator, fileForm, fixture, json, upload, waitForStatus } from "./helpers.ts";

describe("authentication", () => {
  it("refuses a missing or wrong token with 401 in the Cloudflare envelope", async () => {
    for (const headers of [{}, { authorization: "Bearer wrong" }, { authorization: "test-token" }] as Record<string, string>[]) {
      const response = await SELF.fetch(`${API}/v1/stats`, { headers });
      const body = await json(response, 401);
      expect(body).toMatchObject({ success: false, result: null, messages: [] });
      expect(body.errors[0].code).toBe(10000);
    }
  });

  it("refuses an account id that is not this deployment's", async () => {
    const response = await SELF.fetch(API.replace("test-account", "other-account") + "/v1/stats", { headers: { authorization: "Bearer test-token" } });
    const body = await json(response, 403);
    expect(body.errors[0].message).toContain("other-account");
  });
});

describe("upload", () => {
  it("stores the original, answers with the Image object at once and queues processing", async () => {
    const body = await json(await upload("landscapeJpeg", { id: "cat", metadata: JSON.stringify({ owner: "ann" }), creator: "user-1" }));
    expect(body.success).toBe(true);
    expect(body.result).toMatchObject({
      id: "cat",
      filename: "landscapeJpeg.bin",
      requireSignedURLs: false,
      meta: { owner: "ann" },
      creator: "user-1",
      variants: ["https://images.test/cdn-cgi/imagedelivery/test-hash/cat/public"],
    });
    expect(["queued", "processing", "ready"]).toContain(body.result.status);
    expect(Date.parse(body.result.uploaded)).toBeGreaterThan(Date.now() - 60_000);

    const blob = await api("/v1/cat/blob");
    expect(blob.headers.get("content-type")).toBe("image/jpeg");
    expect(new Uint8Array(await blob.arrayBuffer())).toEqual(fixture("landscapeJpeg"));
    await waitForStatus("cat", ["ready"]);
  });

  it("accepts metadata sent as bracketed form fields, as the SDK sends objects", async () => {
    const body = await json(await upload("lossyWebp", { "metadata[team]": "web", "metadata[tag]": "x" }));
    expect(body.result.meta).toEqual({ team: "web", tag: "x" });
  });

  it("refuses what is not an image with 415", async () => {
    const body = await json(await upload("textFile"), 415);
    expect(body.errors[0].message).toMatch(/unsupported image format/);
  });

  it("refuses images over the side and pixel limits from the header, naming the limit", async () => {
    const wide = await json(await upload("tooWidePng"), 413);
    expect(wide.errors[0].message).toContain("12000 px a side (MAX_SIDE)");
    const many = await json(await upload("tooManyPixelsPng"), 413);
    expect(many.errors[0].message).toContain("100 megapixels (MAX_PIXELS)");
  });

  it("refuses a request without a file, oversized metadata and a duplicate id", async () => {
    const empty = new FormData();
    empty.append("id", "nothing");
    expect((await json(await api("/v1", { method: "POST", body: empty }), 400)).errors[0].message).toContain("file");

    const big = await json(await upload("landscapeJpeg", { metadata: JSON.stringify({ text: "x".repeat(1100) }) }), 400);
    expect(big.errors[0].message).toContain("1024 bytes");

    await json(await upload("gif", { id: "twice" }));
    const again = await json(await upload("gif", { id: "twice" }), 409);
    expect(again.errors[0].message).toContain("twice");
  });
});

describe("image records", () => {
  it("edits metadata, creator and requireSignedURLs, and refuses other fields", async () => {
    await json(await upload("lossyWebp", { id: "editable" }));
    const patched = await json(
      await api("/v1/editable", {
        method: "PATCH",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ metadata: { a: 1 }, creator: "me", requireSignedURLs: true }),
      }),
    );
    expect(patched.result).toMatchObject({ meta: { a: 1 }, creator: "me", requireSignedURLs: true });
    expect((await json(await api("/v1/editable"))).result.creator).toBe("me");
    const bad = await json(
      await api("/v1/editable", { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify({ filename: "x" }) }),
      400,
    );
    expect(bad.errors[0].message).toContain("filename");
  });

  it("deletes the original, renditions and record: afterwards metadata and blob are 404", async () => {
    await json(await upload("landscapeJpeg", { id: "doomed" }));
    await waitForStatus("doomed", ["ready"]);
    await json(await api("/v1/doomed", { method: "DELETE" }));
    expect((await api("/v1/doomed")).status).toBe(404);
    expect((await api("/v1/doomed/blob")).status).toBe(404);
    expect(await env.BUCKET.get("originals/doomed")).toBeNull();
    expect((await env.BUCKET.list({ prefix: "renditions/doomed/" })).objects).toHaveLength(0);
  });

  it("lets a deleted id be used again by a new upload, which processes to ready", async () => {
    await json(await upload("gif", { id: "reborn" }));
    await waitForStatus("reborn", ["ready"]);
    await json(await api("/v1/reborn", { method: "DELETE" }));
    const again = await json(await upload("lossyWebp", { id: "reborn" }));
    expect(again.result.status).not.toBe("deleted");
    expect(await waitForStatus("reborn", ["ready", "failed"])).toMatchObject({ status: "ready", attempts: 1 });
    expect((await api("/v1/reborn/blob")).headers.get("content-type")).toBe("image/webp");
  });

  it("lists images with v1 pages and v2 continuation tokens, filtered by creator", async () => {
    for (const id of ["list-a", "list-b", "list-c"]) await json(await upload("gif", { id, creator: "lister" }));
    const page1 = await json(await api("/v1?page=1&per_page=2&creator=lister"));
    expect(page1.result.images.map((i: any) => i.id)).toEqual(["list-c", "list-b"]);
    expect(page1.result_info).toMatchObject({ page: 1, per_page: 2, count: 2, total_count: 3 });
    const page2 = await json(await api("/v1?page=2&per_page=2&creator=lister"));
    expect(page2.result.images.map((i: any) => i.id)).toEqual(["list-a"]);

    const ids: string[] = [];
    let token: string | null = null;
    do {
      const query: string = `?per_page=10&sort_order=asc&creator=lister${token ? `&continuation_token=${token}` : ""}`;
      const page: any = await json(await api(`/v2${query}`));
      ids.push(...page.result.images.map((i: any) => i.id));
      token = page.result.continuation_token;
    } while (token);
    expect(ids).toEqual(["list-a", "list-b", "list-c"]);
    expect((await json(await api("/v2?continuation_token=garbage"), 400)).errors[0].message).toContain("continuation_token");
  });

  it("counts images in stats: uploads and drafts add one, deletes and refused duplicates change nothing", async () => {
    const current = async () => (await json(await api("/v1/stats"))).result.count.current as number;
    const before = await current();
    await json(await upload("gif", { id: "counted" }));
    await json(await upload("gif", { id: "counted" }), 409);
    await json(await api("/v2/direct_upload", { method: "POST" }));
    expect(await current()).toBe(before + 2);
    await json(await api("/v1/counted", { method: "DELETE" }));
    expect(await current()).toBe(before + 1);
    expect((await json(await api("/v1/stats"))).result.count.allowed).toBe(100_000);
  });
});

describe("variants", () => {
  it("starts with public and supports create, read, edit and delete", async () => {
    const list = await json(await api("/v1/variants"));
    expect(list.result.variants.public.options).toEqual({ fit: "scale-down", width: 1366, height: 768, metadata: "none" });

    const body = JSON.stringify({ id: "thumb", options: { fit: "cover", width: 100, height: 100, metadata: "none" }, neverRequireSignedURLs: true });
    const created = await json(await api("/v1/variants", { method: "POST", headers: { "content-type": "application/json" }, body }));
    expect(created.result.variant).toEqual({
      id: "thumb",
      options: { fit: "cover", width: 100, height: 100, metadata: "none" },
      neverRequireSignedURLs: true,
      // Our extension: rendering the new variant for the images already there (test/workers/variant-backfill.test.ts).
      backfill: expect.objectContaining({ status: "running" }),
    });
    expect((await api("/v1/variants", { method: "POST", headers: { "content-type": "application/json" }, body })).status).toBe(409);

    const edited = await json(
      await api("/v1/variants/thumb", { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify({ options: { width: 120 } }) }),
    );
    expect(edited.result.variant.options).toEqual({ fit: "cover", width: 120, height: 100, metadata: "none" });
    expect((await json(await api("/v1/variants/thumb"))).result.variant.options.width).toBe(120);

    await json(await api("/v1/variants/thumb", { method: "DELETE" }));
    expect((await api("/v1/variants/thumb")).status).toBe(404);
  });

  it("validates options and names the bad one", async () => {
    const bad = await json(
      await api("/v1/variants", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ id: "bad", options: { fit: "stretch", width: 10, height: 10 } }),
      }),
      400,
    );
    expect(bad.errors[0].message).toContain("options.fit");
  });
});

describe("signing keys", () => {
  it("has a default key, adds and rotates keys with PUT and removes them with DELETE", async () => {
    const initial = await json(await api("/v1/keys"));
    const defaultKey = initial.result.keys.find((k: any) => k.name === "default");
    expect(defaultKey.value).toMatch(/^[0-9a-f]{64}$/);

    const added = await json(await api("/v1/keys/partner", { method: "PUT" }));
    const partner = added.result.keys.find((k: any) => k.name === "partner");
    expect(partner.value).toMatch(/^[0-9a-f]{64}$/);
    const rotated = await json(await api("/v1/keys/partner", { method: "PUT" }));
    expect(rotated.result.keys.find((k: any) => k.name === "partner").value).not.toBe(partner.value);

    const removed = await json(await api("/v1/keys/partner", { method: "DELETE" }));
    expect(removed.result.keys.map((k: any) => k.name)).toEqual(["default"]);
    expect((await api("/v1/keys/default", { method: "DELETE" })).status).toBe(400);
  });
});

describe("direct upload", () => {
  it("creates a draft with a one-time URL that uploads once without a token", async () => {
    const created = await json(
      await api("/v2/direct_upload", { method: "POST", body: formOf({ id: "direct-1", metadata: JSON.stringify({ via: "browser" }) }) }),
    );
    const { id, uploadURL } = created.result;
    expect(id).toBe("direct-1");
    expect((await json(await api("/v1/direct-1"))).result).toMatchObject({ status: "draft", draft: true, meta: { via: "browser" } });

    // A bad file does not spend the URL.
    expect((await SELF.fetch(uploadURL, { method: "POST", body: fileForm("textFile") })).status).toBe(415);
    const first = await json(await SELF.fetch(uploadURL, { method: "POST", body: fileForm("landscapeJpeg") }));
    expect(first.result).toMatchObject({ id: "direct-1", meta: { via: "browser" } });
    expect(first.result.status).not.toBe("draft");

    const second = await json(await SELF.fetch(uploadURL, { method: "POST", body: fileForm("landscapeJpeg") }), 409);
    expect(second.errors[0].message).toContain("already been used");
    const forged = await SELF.fetch(uploadURL.replace(/[0-9a-f]{8}$/, "00000000"), { method: "POST", body: fileForm("landscapeJpeg") });
    expect(forged.status).toBe(404);
    await waitForStatus("direct-1", ["ready"]);
  });

  it("lets the uploader follow its own image's events with the upload URL's token, and only that image's", async () => {
    const { uploadURL } = (await json(await api("/v2/direct_upload", { method: "POST", body: formOf({ id: "direct-watch" }) }))).result;
    const other = (await json(await api("/v2/direct_upload", { method: "POST", body: formOf({ id: "direct-other" }) }))).result.uploadURL;
    // Before the upload: the draft's state; no API token anywhere.
    const draft = await SELF.fetch(`${uploadURL}/events`);
    expect(draft.headers.get("content-type")).toContain("text/event-stream");
    await draft.body?.cancel();
    await json(await SELF.fetch(uploadURL, { method: "POST", body: fileForm("gif") }));
    const events = parseStatusEvents(await (await SELF.fetch(`${uploadURL}/events`)).text());
    expect(events.at(-1)).toMatchObject({ id: "direct-watch", status: "ready" });
    // Another image's id with this token, or this id with another's token: not a credential for it.
    const token = uploadURL.split("/").at(-1);
    const otherToken = other.split("/").at(-1);
    expect((await SELF.fetch(other.replace(otherToken, token) + "/events")).status).toBe(404);
    expect((await SELF.fetch(uploadURL.replace(token, otherToken) + "/events")).status).toBe(404);
    expect((await SELF.fetch(uploadURL.replace(/[0-9a-f]{8}$/, "00000000") + "/events")).status).toBe(404);
  });

  it("refuses an upload URL after its expiry", async () => {
    const created = await json(await api("/v2/direct_upload", { method: "POST", body: formOf({ id: "direct-late" }) }));
    await runInDurableObject(coordinator("direct-late"), async (instance: ImageCoordinator) => {
      (instance as any).state.upload.expiresAt = Date.now() - 1;
    });
    const late = await json(await SELF.fetch(created.result.uploadURL, { method: "POST", body: fileForm("gif") }), 410);
    expect(late.errors[0].message).toContain("expired");
  });

  it("removes a draft whose upload URL expired unused", async () => {
    const stats = async () => (await json(await api("/v1/stats"))).result.count.current as number;
    await json(await api("/v2/direct_upload", { method: "POST", body: formOf({ id: "direct-abandoned" }) }));
    const before = await stats();
    await runInDurableObject(coordinator("direct-abandoned"), async (instance: ImageCoordinator) => {
      (instance as any).state.upload.expiresAt = Date.now() - 1;
      await instance.alarm();
    });
    expect((await api("/v1/direct-abandoned")).status).toBe(404);
    expect(await stats()).toBe(before - 1);
    // The id is free again.
    await json(await upload("gif", { id: "direct-abandoned" }));
  });
});

function formOf(fields: Record<string, string>): FormData {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  return form;
}

describe("health", () => {
  it("answers 200 when D1 and R2 answer", async () => {
    const response = await SELF.fetch("https://images.test/healthz");
    expect(await json(response)).toEqual({ ok: true, failed: [] });
  });
});
