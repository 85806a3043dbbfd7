import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { DELIVERY, api, deliver, fixture, json, jsonBody, upload, waitForStatus } from "./helpers.ts";

/** A delivery answered with JSON (the helper's deliver probes image bytes). */
async function deliverJson(path: string) {
  const response = await SELF.fetch(`${DELIVERY}/${path}`, { headers: { "cf-connecting-ip": "198.51.100.7" } });
  return { response, body: await response.json() };
}

/** POSTs a variant; answers the API's envelope. */
const createVariant = (id: string, options: Record<string, unknown>, status = 200) =>
  api("/v1/variants", { method: "POST", ...jsonBody({ id, options }) }).then((r) => json(r, status));

describe("the rest of Cloudflare's options through delivery URLs", () => {
  it("format=json answers the output's size and the original's, as JSON, cached like a rendition", async () => {
    await json(await upload("landscapeJpeg", { id: "info" }));
    await waitForStatus("info", ["ready"]);
    const first = await deliverJson("info/w=100,h=50,fit=squeeze,border=%23000000;5,format=json");
    expect(first.response.status).toBe(200);
    expect(first.response.headers.get("content-type")).toBe("application/json");
    expect(first.body).toEqual({
      width: 110,
      height: 60,
      original: { file_size: fixture("landscapeJpeg").length, width: 640, height: 480, format: "image/jpeg" },
    });
    const again = await deliverJson("info/format=json,fit=squeeze,h=50,w=100,border=%23000000;5");
    expect(again.response.headers.get("x-image-source")).toBe("HIT");
    expect(again.body).toEqual(first.body);
  });

  it("renders squeeze, trim, border and compression=fast with the sizes and formats they promise", async () => {
    await json(await upload("landscapeJpeg", { id: "shapes" }));
    await waitForStatus("shapes", ["ready"]);
    expect((await deliver("shapes/w=100,h=100,fit=squeeze,f=png")).header).toMatchObject({ format: "png", width: 100, height: 100 });
    expect((await deliver("shapes/trim=0;0;0;320,f=png")).header).toMatchObject({ width: 320, height: 480 });
    expect((await deliver("shapes/trim=40;0;40;0,w=280,f=png")).header).toMatchObject({ width: 280, height: 175 });
    expect((await deliver("shapes/w=200,border=%23ff0000;10,f=png")).header).toMatchObject({ width: 220, height: 170 });
    // compression=fast picks the quickest format for format=auto, as Cloudflare does.
    expect((await deliver("shapes/w=200,compression=fast", { accept: "image/avif,image/webp,*/*" })).header).toMatchObject({ format: "jpeg" });
    expect((await deliver("shapes/w=200,format=baseline-jpeg", { accept: "image/webp" })).header).toMatchObject({ format: "jpeg" });
  });

  it("refuses what it cannot do with a 400 naming the option: zoom without faces, gravity=face, a trim that leaves nothing", async () => {
    await json(await upload("landscapeJpeg", { id: "refusals" }));
    await waitForStatus("refusals", ["ready"]);
    for (const [segment, words] of [
      ["w=100,h=100,fit=cover,zoom=0.5", "zoom=0.5"],
      ["w=100,zoom=2", "zoom must be a decimal number from 0 to 1"],
      ["w=100,h=100,fit=cover,gravity=face", "gravity=face"],
      ["trim=0;320;0;320", "leaves no pixels of the 640×480 image"],
      ["border=red;5", "border color must be a color"],
    ]) {
      const { response, bytes } = await deliver(`refusals/${segment}`);
      expect(response.status, segment).toBe(400);
      expect(JSON.parse(new TextDecoder().decode(bytes)).errors[0].message, segment).toContain(words);
    }
  });
});

describe("named variants with the flexible options beside Cloudflare's four fields", () => {
  it("stores them, shows them unchanged, keeps them through a PATCH, and renders them", async () => {
    const options = { fit: "scale-down", width: 200, height: 200, metadata: "none", rotate: 90, border: "#ff0000;4", quality: "low" };
    const created = await createVariant("framed", options);
    expect(created.result.variant.options).toEqual(options);
    expect((await json(await api("/v1/variants/framed"))).result.variant.options).toEqual(options);
    const patched = await json(await api("/v1/variants/framed", { method: "PATCH", ...jsonBody({ options: { width: 180, height: 180 } }) }));
    expect(patched.result.variant.options).toEqual({ ...options, width: 180, height: 180 });
    const changed = await json(await api("/v1/variants/framed", { method: "PATCH", ...jsonBody({ options: { quality: null, flip: "h" } }) }));
    const { quality: _removed, ...kept } = { ...options, width: 180, height: 180, flip: "h" };
    expect(changed.result.variant.options).toEqual(kept);
    await json(await api("/v1/variants/framed", { method: "PATCH", ...jsonBody({ options: { quality: "low", flip: null } }) }));

    await json(await upload("landscapeJpeg", { id: "framed-image" }));
    await waitForStatus("framed-image", ["ready"]);
    // 640×480 turned a quarter: 480×640, scaled down into 180×180 (135×180), then 4 px of border on each side.
    expect((await deliver("framed-image/framed", { accept: "image/webp" })).header).toMatchObject({ format: "webp", width: 143, height: 188 });
  });

  it("an image the variant's trim would leave nothing of is still processed; that variant answers a 400 naming the trim", async () => {
    await createVariant("narrow-trim", { fit: "scale-down", width: 100, height: 100, metadata: "none", trim: "0;400;0;400" });
    await json(await upload("landscapeJpeg", { id: "too-narrow" }));
    await waitForStatus("too-narrow", ["ready"]);
    expect((await deliver("too-narrow/public")).header).toMatchObject({ width: 640, height: 480 });
    const { response, bytes } = await deliver("too-narrow/narrow-trim");
    expect(response.status).toBe(400);
    expect(JSON.parse(new TextDecoder().decode(bytes)).errors[0].message).toBe("trim 0;400;0;400 leaves no pixels of the 640×480 image");
    await json(await api("/v1/variants/narrow-trim", { method: "DELETE" }));
  });

  it("filters in a named variant render as in a URL: blur and saturation change the pixels, the same as their flexible twin", async () => {
    await createVariant("soft-grey", { fit: "scale-down", width: 160, height: 160, metadata: "none", blur: 8, saturation: 0 });
    await createVariant("plain-160", { fit: "scale-down", width: 160, height: 160, metadata: "none" });
    await json(await upload("landscapeJpeg", { id: "filtered-variant" }));
    await waitForStatus("filtered-variant", ["ready"]);
    const png = { accept: "image/png" };
    const soft = await deliver("filtered-variant/soft-grey", png);
    const plain = await deliver("filtered-variant/plain-160", png);
    const flexible = await deliver("filtered-variant/w=160,h=160,blur=8,saturation=0", png);
    expect(soft.header).toMatchObject({ width: 160, height: 120 });
    expect(soft.bytes).not.toEqual(plain.bytes);
    expect(soft.bytes).toEqual(flexible.bytes);
  });

  it("validates each extra option with the flexible options' own parser, naming it", async () => {
    const base = { fit: "cover", width: 10, height: 10, metadata: "none" };
    expect((await createVariant("bad-rotate", { ...base, rotate: 45 }, 400)).errors[0].message).toBe("rotate must be one of 0, 90, 180, 270 (degrees clockwise), got \"45\"");
    expect((await createVariant("bad-name", { ...base, sepia: 1 }, 400)).errors[0].message).toContain('"sepia"');
    const proto = await api("/v1/variants", { method: "POST", headers: { "content-type": "application/json" }, body: `{"id":"bad-proto","options":{"fit":"cover","width":10,"height":10,"metadata":"none","__proto__":"x"}}` });
    expect((await json(proto, 400)).errors[0].message).toContain('"__proto__"');
    expect((await createVariant("bad-json", { ...base, format: "json" }, 400)).errors[0].message).toContain("options.format=json");
    expect((await createVariant("bad-value", { ...base, trim: { top: 1 } }, 400)).errors[0].message).toContain("options.trim must be a string, number or boolean");
  });
});
