import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { decodeStill } from "../../wasm/src/compose.ts";
import { engineModules } from "../../wasm/src/modules.worker.ts";
import { renditionCacheKey } from "../../workers/gateway/delivery/cache.ts";
import { planGeometry } from "../../workers/shared/geometry.ts";
import { imageStorageId } from "../../workers/shared/storage.ts";
import { parseFlexibleOptions, transformFingerprint } from "../../workers/shared/transform.ts";
import { SALIENCY_BACKGROUND } from "../fixtures/saliency-scene.ts";
import { api, coordinator, deliver, eventually, fixture, json, jsonBody, upload, waitForStatus } from "./helpers.ts";

// subjectAtLeftEdgePng: 600×200 flat grey, an 80 px subject at (8, 60), within the 200 px at the left edge.
const SUBJECT_PIXELS = 80 * 80;

/** Pixels of an output that are not the fixture's flat background: how much of the subject it shows. */
async function subjectPixels(bytes: Uint8Array): Promise<number> {
  const r = await decodeStill(bytes, engineModules, 100_000_000);
  let n = 0;
  for (let i = 0; i < r.width * r.height; i++) {
    const p = i * r.channels;
    const d = Math.abs(r.data[p] - SALIENCY_BACKGROUND[0]) + Math.abs(r.data[p + 1] - SALIENCY_BACKGROUND[1]) + Math.abs(r.data[p + 2] - SALIENCY_BACKGROUND[2]);
    if (d > 40) n++;
  }
  return n;
}

describe("gravity=auto at the edge: a crop's size, its place left to the engine", () => {
  it("plans the centred crop as a stand-in, to be placed anywhere in the image", () => {
    expect(planGeometry({ width: 600, height: 200 }, parseFlexibleOptions("fit=cover,w=200,h=200,g=auto"))).toMatchObject({
      width: 200, height: 200, crop: { left: 200, top: 0, width: 200, height: 200 },
      cropPlacement: { strategy: "attention", within: { left: 0, top: 0, width: 600, height: 200 } },
    });
  });

  it("keeps it inside what a trim keeps", () => {
    expect(planGeometry({ width: 600, height: 200 }, parseFlexibleOptions("trim=0;0;0;150,fit=cover,w=200,h=200,g=auto")).cropPlacement)
      .toEqual({ strategy: "attention", within: { left: 150, top: 0, width: 450, height: 200 } });
  });

  it("leaves nothing to place when the image already has the box's aspect, or for another gravity", () => {
    expect(planGeometry({ width: 600, height: 600 }, parseFlexibleOptions("fit=cover,w=200,h=200,g=auto")).cropPlacement).toBeUndefined();
    expect(planGeometry({ width: 600, height: 200 }, parseFlexibleOptions("fit=cover,w=200,h=200,g=left")).cropPlacement).toBeUndefined();
  });
});

describe("gravity=auto", () => {
  it("through a delivery URL crops to the subject where the centre crop shows only background, cached under its own key", async () => {
    await json(await upload("subjectAtLeftEdgePng", { id: "salient" }));
    await waitForStatus("salient", ["ready"]);
    const auto = await deliver("salient/fit=cover,w=200,h=200,g=auto,f=png");
    const centre = await deliver("salient/fit=cover,w=200,h=200,g=center,f=png");
    const left = await deliver("salient/fit=cover,w=200,h=200,g=left,f=png");
    expect(auto.response.status).toBe(200);
    expect(auto.header).toMatchObject({ format: "png", width: 200, height: 200 });
    expect(await subjectPixels(auto.bytes)).toBe(SUBJECT_PIXELS);
    expect(await subjectPixels(centre.bytes)).toBe(0);
    // The attention crop is the left-edge window, pixel for pixel.
    expect(auto.bytes).toEqual(left.bytes);

    const again = await deliver("salient/gravity=auto,w=200,h=200,fit=cover,f=png");
    expect(again.response.headers.get("x-image-source")).toBe("HIT");
    expect(again.bytes).toEqual(auto.bytes);

    const { life } = await coordinator("salient").snapshot();
    const image = { storageId: await imageStorageId("salient"), life };
    const [autoKey, centreKey] = await Promise.all(
      ["fit=cover,w=200,h=200,g=auto", "fit=cover,w=200,h=200"].map(async (o) => renditionCacheKey(image, await transformFingerprint(parseFlexibleOptions(o)), "png")),
    );
    expect(autoKey).not.toBe(centreKey);
    const cache = await caches.open("renditions");
    await eventually(async () => {
      expect(new Uint8Array(await (await cache.match(autoKey))!.arrayBuffer())).toEqual(auto.bytes);
      expect(new Uint8Array(await (await cache.match(centreKey))!.arrayBuffer())).toEqual(centre.bytes);
    });
  });

  it("in a named variant's options, rendered with the image's eager set", async () => {
    await json(await api("/v1/variants", { method: "POST", ...jsonBody({ id: "square-auto", options: { fit: "cover", width: 200, height: 200, metadata: "none", gravity: "auto" } }) }));
    await json(await upload("subjectAtLeftEdgePng", { id: "salient-variant" }));
    await waitForStatus("salient-variant", ["ready"]);
    const { response, bytes, header } = await deliver("salient-variant/square-auto", { accept: "image/webp" });
    expect(response.status).toBe(200);
    // Stored by the processing job, not rendered on demand.
    expect(response.headers.get("x-image-source")).toBe("STORED");
    expect(header).toMatchObject({ format: "webp", width: 200, height: 200 });
    expect(await subjectPixels(bytes)).toBeGreaterThan(0.9 * SUBJECT_PIXELS);
    await json(await api("/v1/variants/square-auto", { method: "DELETE" }));
  });

  it("through the Images-binding-style API", async () => {
    const image = btoa(Array.from(fixture("subjectAtLeftEdgePng"), (b) => String.fromCharCode(b)).join(""));
    const recipe = { image, steps: [{ transform: { width: 200, height: 200, fit: "cover", gravity: "auto" } }], output: { format: "image/png" } };
    const response = await env.IMAGES_CLIENT.fetch("http://client/response", { method: "POST", body: JSON.stringify(recipe) });
    expect(response.status).toBe(200);
    expect(await subjectPixels(new Uint8Array(await response.arrayBuffer()))).toBe(SUBJECT_PIXELS);
  });
});
