/**
 * Cloudflare's transform options, end to end through the functions delivery uses (parse → eager-set targets →
 * engine), compared with sharp's equivalent operation.
 */
import { beforeAll, describe, expect, it } from "vitest";
import sharp, { type Sharp } from "sharp";
import { renderTargets, type EngineModules } from "../../wasm/src/engine.ts";
import { loadEngineModules } from "../../wasm/src/modules.node.ts";
import { renderTargetsOf } from "../../workers/shared/eager-set.ts";
import { parseFlexibleOptions } from "../../workers/shared/transform.ts";
import { jpegWithOrientation, picture, probe, psnr, rgb, sharpSteps } from "./fixtures.ts";

let modules: EngineModules;
let inputPng: Buffer;
beforeAll(async () => {
  modules = await loadEngineModules({ kernels: true });
  inputPng = await sharp(picture(), { raw: { width: 480, height: 320, channels: 4 } }).removeAlpha().png().toBuffer();
});

/** Renders `segment` (flexible-variant options) of `input` as PNG; returns its RGB pixels. */
async function ours(input: Uint8Array, segment: string) {
  const source = await probe(input);
  const transform = parseFlexibleOptions(segment);
  const [target] = renderTargetsOf(source, [{ transform, format: "png", fingerprint: "", variant: null }]);
  const [out] = await renderTargets(input, source, [target], { modules, maxPixels: 1e8 });
  return rgb(sharp(out.bytes));
}

describe("rotate and flip", () => {
  it.each([
    ["rotate=90", [(s: Sharp) => s.rotate(90)]],
    ["rotate=180", [(s: Sharp) => s.rotate(180)]],
    ["rotate=270", [(s: Sharp) => s.rotate(270)]],
    ["flip=h", [(s: Sharp) => s.flop()]],
    ["flip=v", [(s: Sharp) => s.flip()]],
    ["flip=hv", [(s: Sharp) => s.flip().flop()]],
    // Cloudflare: flipping is performed before rotation.
    ["flip=h,rotate=90", [(s: Sharp) => s.flop(), (s: Sharp) => s.rotate(90)]],
    ["flip=v,rotate=270", [(s: Sharp) => s.flip(), (s: Sharp) => s.rotate(270)]],
  ] as const)("%s matches sharp pixel for pixel", async (segment, steps) => {
    const [a, b] = [await ours(inputPng, segment), await sharpSteps(inputPng, ...steps)];
    expect([a.width, a.height]).toEqual([b.width, b.height]);
    expect(a.data.equals(b.data)).toBe(true);
  });

  it("applies after EXIF orientation", async () => {
    const input = await jpegWithOrientation(6);
    const [a, b] = [await ours(input, "rotate=90"), await sharpSteps(input, (s) => s.rotate(), (s) => s.rotate(90))];
    expect([a.width, a.height]).toEqual([b.width, b.height]);
    expect(psnr(a.data, b.data)).toBeGreaterThan(40);
  });

  it("width and height refer to the axes after rotation, and a crop keeps its gravity there", async () => {
    const scaled = await ours(inputPng, "w=100,rotate=90");
    expect([scaled.width, scaled.height]).toEqual([100, 150]);
    const cropped = await ours(inputPng, "w=200,h=100,fit=cover,gravity=top,rotate=90");
    const expected = await sharpSteps(inputPng, (s) => s.rotate(90), (s) => s.resize(200, 100, { fit: "cover", position: "top", kernel: "lanczos3" }));
    expect([cropped.width, cropped.height]).toEqual([200, 100]);
    expect(psnr(cropped.data, expected.data)).toBeGreaterThan(35);
  });
});
