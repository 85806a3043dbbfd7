import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { decodeStill } from "../../wasm/src/compose.ts";
import { engineModules } from "../../wasm/src/modules.worker.ts";
import type { Raster } from "../../wasm/src/raster.ts";
import { layerSize } from "../../workers/processor/pipeline/draw-layers.ts";
import { imageStorageId, originalKey } from "../../workers/shared/storage.ts";
import { transformFingerprint, transformOfVariant, type VariantOptions } from "../../workers/shared/transform.ts";
import type { FixtureName } from "../fixtures/images.ts";
import { api, deliver, json, jsonBody, upload, waitForStatus } from "./helpers.ts";

// Fixtures: the base is solidColourPng (200×150 of #3366cc), the watermark alphaPng (400×300: a red disc of radius
// 120 on transparent), so every pixel of a drawn output is known: the base, red, or their blend.

const BASE = [0x33, 0x66, 0xcc];
const RED = [255, 0, 0];

const createVariant = (id: string, options: Record<string, unknown>, status = 200) =>
  api("/v1/variants", { method: "POST", ...jsonBody({ id, options }) }).then((r) => json(r, status));
const deleteVariant = (id: string) => api(`/v1/variants/${id}`, { method: "DELETE" }).then((r) => json(r));
const variantOptions = (draw: unknown) => ({ fit: "scale-down", width: 200, height: 150, metadata: "none", format: "png", draw });

async function uploadReady(name: FixtureName, id: string): Promise<void> {
  await json(await upload(name, { id }));
  await waitForStatus(id, ["ready"]);
}

async function deliveredPixels(path: string, headers: Record<string, string> = {}): Promise<Raster & { source: string | null }> {
  const { response, bytes } = await deliver(path, headers);
  expect(response.status, new TextDecoder().decode(bytes.subarray(0, 300))).toBe(200);
  return { ...(await decodeStill(bytes, engineModules, 1e8)), source: response.headers.get("x-image-source") };
}

const pixel = (r: Raster, x: number, y: number) => Array.from(r.data.subarray((y * r.width + x) * r.channels, (y * r.width + x) * r.channels + 3));
/** "Over" at opacity a, channel by channel, rounded as the engine does. */
const blend = (over: number[], under: number[], a: number) => over.map((o, c) => Math.round(o * a + under[c] * (1 - a)));

describe("named variants that draw a stored image over the output (watermarks)", () => {
  it("draws the watermark at its size and position, blended by its opacity", async () => {
    await uploadReady("alphaPng", "logo");
    const created = await createVariant("marked", variantOptions([{ image: "logo", width: 0.5, bottom: 0, right: 0, opacity: 0.5 }]));
    // Shown as given: the upload it is pinned to is the definition's own business.
    expect(created.result.variant.options.draw).toEqual([{ image: "logo", width: 0.5, bottom: 0, right: 0, gravity: "center", opacity: 0.5, repeat: false }]);
    await uploadReady("solidColourPng", "photo");
    // PNG is not in the eager set of an opaque image: rendered on demand.
    const out = await deliveredPixels("photo/marked");
    expect([out.width, out.height, out.source]).toEqual([200, 150, "RENDERED"]);
    // Half the output's width: 100×75 in the bottom-right corner; the disc's centre at (150, 112), radius 30.
    expect(pixel(out, 150, 112)).toEqual(blend(RED, BASE, 0.5));
    expect(pixel(out, 102, 77)).toEqual(BASE); // inside the layer's box, outside the disc: transparent
    expect(pixel(out, 50, 40)).toEqual(BASE);
    await deleteVariant("marked");
  });

  it("draws it in the renditions made at upload too (the eager set)", async () => {
    await uploadReady("alphaPng", "eager-logo");
    await createVariant("eager-marked", { ...variantOptions([{ image: "eager-logo", width: 0.5, bottom: 0, right: 0, opacity: 0.5 }]), format: null });
    await uploadReady("solidColourPng", "eager-photo");
    const out = await deliveredPixels("eager-photo/eager-marked", { accept: "image/webp" });
    expect([out.width, out.height, out.source]).toEqual([200, 150, "STORED"]);
    // Lossy WebP: within a few levels of the exact blend.
    const near = (got: number[], want: number[]) => got.forEach((v, c) => expect(Math.abs(v - want[c])).toBeLessThanOrEqual(6));
    near(pixel(out, 150, 112), blend(RED, BASE, 0.5));
    near(pixel(out, 50, 40), BASE);
    await deleteVariant("eager-marked");
  });

  it("places by gravity and tiles with repeat, in a variant defined after the image", async () => {
    await uploadReady("alphaPng", "tile");
    await uploadReady("solidColourPng", "wall");
    await createVariant("tiled", variantOptions([{ image: "tile", width: 0.25, repeat: true }]));
    await createVariant("topped", variantOptions([{ image: "tile", width: 0.25, gravity: "top" }]));
    // 50×38 tiles from the centred one outwards: the centred tile spans x 75–125, y 56–94.
    const tiled = await deliveredPixels("wall/tiled");
    for (const [x, y] of [[100, 75], [50, 75], [150, 75], [100, 37], [100, 113], [0, 75]]) expect(pixel(tiled, x, y), `${x},${y}`).toEqual(RED);
    expect(pixel(tiled, 76, 57)).toEqual(BASE);
    const topped = await deliveredPixels("wall/topped");
    expect(pixel(topped, 100, 19)).toEqual(RED);
    expect(pixel(topped, 100, 75)).toEqual(BASE);
    await deleteVariant("tiled");
    await deleteVariant("topped");
  });

  it("draws an SVG logo rasterised at the layer's size", async () => {
    await uploadReady("scriptedSvg", "svg-logo");
    await uploadReady("solidColourPng", "svg-photo");
    await createVariant("svg-marked", variantOptions([{ image: "svg-logo", width: 0.5, top: 0, left: 0 }]));
    const out = await deliveredPixels("svg-photo/svg-marked");
    // 100×75 at the top-left: the drawing's orange disc at its centre, its blue ground at its corner.
    expect(pixel(out, 50, 37)).toEqual([0xff, 0x8c, 0x00]);
    expect(pixel(out, 2, 2)).toEqual([0x1e, 0x90, 0xff]);
    expect(pixel(out, 150, 112)).toEqual(BASE);
    await deleteVariant("svg-marked");
  });

  it("refuses a definition that draws an unknown image or gives a bad layer, naming the field", async () => {
    const refused = async (draw: unknown) => (await createVariant("bad-draw", variantOptions(draw), 400)).errors[0].message as string;
    expect(await refused([{ image: "no-such-image" }])).toBe('options.draw[0].image: there is no image "no-such-image"');
    expect(await refused([{ image: "logo", opacity: 2 }])).toContain("options.draw[0].opacity must be a number from 0 to 1");
    expect(await refused([{ image: "logo", width: 20 }])).toContain("options.draw[0].width must be a fraction");
    expect(await refused([{ image: "logo", top: 1, bottom: 1 }])).toContain("options.draw[0] gives both top and bottom");
    expect(await refused([{ image: "logo", gravity: "top", left: 3 }])).toContain("gives both gravity and offsets");
    expect(await refused([{ image: "logo", repeat: "z" }])).toContain('options.draw[0].repeat must be true, false, "x" or "y"');
    expect(await refused([{ image: "logo", size: 1 }])).toContain("options.draw[0].size is not a draw option");
    expect(await refused(Array(5).fill({ image: "logo" }))).toContain("options.draw must be an array of 1 to 4 layers");
    expect(await refused("logo")).toContain("options.draw must be an array");
    expect((await createVariant("bad-draw", { ...variantOptions([{ image: "logo" }]), trim: "border" }, 400)).errors[0].message).toContain("trim=border");
  });

  it("will not delete an image a variant draws, until the variant stops drawing it", async () => {
    await uploadReady("alphaPng", "badge");
    await createVariant("badged", variantOptions([{ image: "badge" }]));
    const refused = await json(await api("/v1/badge", { method: "DELETE" }), 409);
    expect(refused.errors[0].message).toBe('image "badge" is drawn by variant "badged": remove it from their options.draw first');
    await json(await api("/v1/variants/badged", { method: "PATCH", ...jsonBody({ options: { draw: null } }) }));
    await json(await api("/v1/badge", { method: "DELETE" }));
    await deleteVariant("badged");
  });

  it("a watermark whose upload is gone from storage fails that variant's render visibly, and no image's processing", async () => {
    await uploadReady("alphaPng", "lost-logo");
    await createVariant("lost", variantOptions([{ image: "lost-logo" }]));
    const { life } = await waitForStatus("lost-logo", ["ready"]);
    await env.BUCKET.delete(originalKey({ storageId: await imageStorageId("lost-logo"), life: life! }));
    // A new upload is processed (its other variants rendered); the variant that draws the lost image is skipped.
    await uploadReady("solidColourPng", "later-photo");
    expect((await deliver("later-photo/public")).response.status).toBe(200);
    const { response, bytes } = await deliver("later-photo/lost");
    expect(response.status).toBe(409);
    expect(JSON.parse(new TextDecoder().decode(bytes)).errors[0].message).toBe(
      'variant "lost" draws image "lost-logo", whose upload is no longer stored: PATCH the variant\'s draw to use a stored image',
    );
    await deleteVariant("lost");
  });
});

describe("the render fingerprint of a variant that draws", () => {
  const variant: VariantOptions = { fit: "scale-down", width: 200, height: 150, metadata: "none" };
  const layer = { image: "logo", life: "0123456789abcdef", gravity: "center" as const, opacity: 1, repeat: false as const };
  const fingerprint = (draw?: object[]) => transformFingerprint(transformOfVariant({ ...variant, extra: draw ? { draw: draw as never } : {} }));

  it("changes with every layer option and with the upload the layer is pinned to", async () => {
    const plain = await fingerprint();
    const drawn = await fingerprint([layer]);
    const variations = [
      [{ ...layer, opacity: 0.5 }],
      [{ ...layer, width: 0.2 }],
      [{ ...layer, gravity: "top" }],
      [{ ...layer, bottom: 4 }],
      [{ ...layer, repeat: "x" }],
      [{ ...layer, image: "other" }],
      [{ ...layer, life: "fedcba9876543210" }],
      [layer, layer],
    ];
    const all = new Set([plain, drawn, ...(await Promise.all(variations.map(fingerprint)))]);
    expect(all.size).toBe(variations.length + 2);
    expect(await fingerprint([{ ...layer }])).toBe(drawn);
  });
});

describe("a layer's size on an output", () => {
  const out = { width: 200, height: 150 };
  const own = (width: number, height: number) => ({ width, height, orientation: 1 as const });

  it("is its fraction of the output's width or height, or fitted in both, the aspect kept", () => {
    expect(layerSize({ width: 0.5 }, own(400, 300), out)).toEqual({ width: 100, height: 75 });
    expect(layerSize({ height: 0.2 }, own(400, 300), out)).toEqual({ width: 40, height: 30 });
    expect(layerSize({ width: 0.5, height: 0.5 }, own(400, 100), out)).toEqual({ width: 100, height: 25 });
  });

  it("is the image's own size without one, and never larger than the output", () => {
    expect(layerSize({}, own(40, 30), out)).toEqual({ width: 40, height: 30 });
    expect(layerSize({}, own(800, 300), out)).toEqual({ width: 200, height: 75 });
    // A tall image at the whole width would be mostly outside the output: shrunk to its height instead.
    expect(layerSize({ width: 1 }, own(100, 1000), out)).toEqual({ width: 15, height: 150 });
    // Oriented: stored 300×400 shown 400×300.
    expect(layerSize({ width: 0.5 }, { width: 300, height: 400, orientation: 6 }, out)).toEqual({ width: 100, height: 75 });
  });
});
