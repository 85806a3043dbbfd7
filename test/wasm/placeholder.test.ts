// Placeholders from the engine's render: a ThumbHash of the whole picture and its dominant colour (mean in linear
// light), made from a raster the cascade already has, on both engine paths.
import { beforeAll, describe, expect, it } from "vitest";
import sharp from "sharp";
import { thumbHashToApproximateAspectRatio, thumbHashToRGBA } from "thumbhash";
import { renderTargets, type EngineModules, type Placeholder, type RenderTarget } from "../../wasm/src/engine.ts";
import { loadEngineModules } from "../../wasm/src/modules.node.ts";
import { dominantColor, placeholderSize } from "../../wasm/src/placeholder.ts";
import { H, MARK, W, jpegWithOrientation, picture, probe } from "./fixtures.ts";

const maxPixels = 100_000_000;
const target = (t: Partial<RenderTarget> & Pick<RenderTarget, "width" | "height" | "format">): RenderTarget => ({ quality: 85, metadata: "none", ...t });
const hashBytes = (p: Placeholder) => Uint8Array.from(atob(p.thumbhash), (c) => c.charCodeAt(0));

/** Mean sRGB colour of an RGBA buffer. */
function meanRgb(rgba: Uint8Array): number[] {
  const sums = [0, 0, 0];
  for (let i = 0; i < rgba.length; i += 4) for (let c = 0; c < 3; c++) sums[c] += rgba[i + c];
  return sums.map((s) => s / (rgba.length / 4));
}

describe("dominantColor", () => {
  it("is the mean in linear light: half black, half white is #bcbcbc, not #808080", () => {
    const rgba = new Uint8Array([0, 0, 0, 255, 255, 255, 255, 255]);
    expect(dominantColor(rgba)).toBe("#bcbcbc");
  });

  it("weighs pixels by alpha, so a transparent pixel's colour does not count", () => {
    expect(dominantColor(new Uint8Array([10, 200, 30, 255, 255, 0, 0, 0]))).toBe("#0ac81e");
  });

  it("keeps every 8-bit solid colour exactly", () => {
    for (let v = 0; v < 256; v++) expect(dominantColor(new Uint8Array([v, v, 255 - v, 255]))).toBe(`#${[v, v, 255 - v].map((x) => x.toString(16).padStart(2, "0")).join("")}`);
  });
});

describe("placeholderSize", () => {
  it("keeps the aspect within 100×100 and never enlarges", () => {
    expect(placeholderSize(4000, 3000)).toEqual({ width: 100, height: 75 });
    expect(placeholderSize(300, 6000)).toEqual({ width: 5, height: 100 });
    expect(placeholderSize(40, 30)).toEqual({ width: 40, height: 30 });
  });
});

describe.each([
  { path: "kernels", useKernels: true },
  { path: "jSquash only", useKernels: false },
])("placeholders on $path", ({ useKernels }) => {
  let modules: EngineModules;
  beforeAll(async () => {
    modules = await loadEngineModules({ kernels: useKernels });
  });

  async function placeholderOfRender(input: Uint8Array, targets: RenderTarget[]): Promise<Placeholder> {
    const found: Placeholder[] = [];
    await renderTargets(input, await probe(input), targets, { modules, maxPixels, placeholder: (p) => found.push(p) });
    expect(found).toHaveLength(1);
    return found[0];
  }

  it("a solid-colour image's dominant colour is that colour, exactly", async () => {
    const png = await sharp({ create: { width: 300, height: 200, channels: 3, background: "#3366cc" } }).png().toBuffer();
    const p = await placeholderOfRender(png, [target({ width: 150, height: 100, format: "webp" })]);
    expect(p.dominantColor).toBe("#3366cc");
    expect(thumbHashToApproximateAspectRatio(hashBytes(p))).toBeGreaterThan(1.3); // 3:2 (ThumbHash keeps the aspect coarsely)
  });

  it("the ThumbHash decodes to a tiny image whose mean colour is close to the original's", async () => {
    const jpeg = await sharp(picture(), { raw: { width: W, height: H, channels: 4 } }).removeAlpha().jpeg({ quality: 90 }).toBuffer();
    const p = await placeholderOfRender(jpeg, [target({ width: 240, height: 160, format: "jpeg" }), target({ width: 120, height: 80, format: "webp" })]);
    const decoded = thumbHashToRGBA(hashBytes(p));
    expect(Math.max(decoded.w, decoded.h)).toBeLessThanOrEqual(32);
    const { channels } = await sharp(jpeg).stats();
    const original = channels.slice(0, 3).map((c) => c.mean);
    const mean = meanRgb(decoded.rgba);
    for (let c = 0; c < 3; c++) expect(Math.abs(mean[c] - original[c]), `channel ${c}: ${mean} vs ${original}`).toBeLessThan(8);
  });

  it("shows the whole picture even when every target is a crop (made from the decoded source)", async () => {
    const png = await sharp(picture(), { raw: { width: W, height: H, channels: 4 } }).removeAlpha().png().toBuffer();
    // The only target is the red marker square; the whole picture is mostly blue-green.
    const p = await placeholderOfRender(png, [target({ width: 32, height: 32, format: "png", crop: { left: 0, top: 0, width: MARK, height: MARK } })]);
    const [r, g, b] = [1, 3, 5].map((i) => parseInt(p.dominantColor.slice(i, i + 2), 16));
    expect(r).toBeLessThan(200);
    expect(b).toBeGreaterThan(g / 2);
    expect(thumbHashToApproximateAspectRatio(hashBytes(p))).toBeGreaterThan(1.3); // 3:2 (ThumbHash keeps the aspect coarsely)
  });

  it("is of the oriented picture: an EXIF-rotated (6) landscape gives a portrait ThumbHash", async () => {
    const p = await placeholderOfRender(await jpegWithOrientation(6), [target({ width: 160, height: 240, format: "webp" })]);
    expect(thumbHashToApproximateAspectRatio(hashBytes(p))).toBeLessThan(0.8); // 2:3
  });

  it("keeps the picture's aspect when the smallest target stretches it", async () => {
    const png = await sharp({ create: { width: 400, height: 100, channels: 3, background: "#808080" } }).png().toBuffer();
    const p = await placeholderOfRender(png, [target({ width: 50, height: 50, format: "png" })]);
    expect(thumbHashToApproximateAspectRatio(hashBytes(p))).toBeGreaterThan(3);
  });
});
