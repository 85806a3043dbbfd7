// CMYK JPEGs through their embedded CMYK profile: our JPEG decoder hands back CMYK ink, icc/cmyk.ts converts it to
// sRGB right after the decode. Fixtures are made here by sharp (its built-in CMYK profile, a ~1 MB lut16 press
// profile, embedded by `withIccProfile("cmyk")`) and by our test encoder (YCCK, which libvips never writes).
import { beforeAll, describe, expect, it } from "vitest";
import sharp from "sharp";
import { renderTargets, type EngineModules, type RenderReport, type RenderTarget } from "../../wasm/src/engine.ts";
import { loadEngineModules } from "../../wasm/src/modules.node.ts";
import { parseIccProfile } from "../../wasm/src/icc/profile.ts";
import { cmykToSrgb, compositeLut } from "../../wasm/src/icc/to-srgb.ts";
import { embedIccInJpeg } from "../../wasm/src/icc/containers.ts";
import { CMYK_TABLE_BYTES, inkToSrgbInPlace } from "../../wasm/src/icc/cmyk.ts";
import { decodeJpeg, decodeLoadedJpeg, estimateJpegDecodeBytes, loadJpeg, readJpegHeader } from "../../wasm/src/jpeg.ts";
import { FORMATS } from "../../wasm/src/formats/index.ts";
import { picture, probe, psnr } from "./fixtures.ts";
import { deltaE, patchChart } from "./icc-fixtures.ts";
import { cmykInkToRgb, encodeBaseline, syntheticPhoto, yccPlanes } from "./jpeg-fixtures.ts";

let modules: EngineModules;
beforeAll(async () => {
  modules = await loadEngineModules({ kernels: true });
});

const target = (t: Partial<RenderTarget> & Pick<RenderTarget, "width" | "height">): RenderTarget => ({ quality: 100, metadata: "none", format: "png", ...t });

async function render(input: Uint8Array, t: RenderTarget, engine = modules) {
  let report: RenderReport | undefined;
  const [out] = await renderTargets(input, await probe(input), [t], { modules: engine, maxPixels: 1e8 }, (r) => (report = r));
  return { out, report: report! };
}

/** Raw RGB of an output (PNG, lossless) or of sharp's ICC-aware decode of a source (sharp converts to sRGB by default). */
const srgbPixels = async (img: Uint8Array) => new Uint8Array(await sharp(img).removeAlpha().raw().toBuffer());

const chart = patchChart();
const rawChart = () => sharp(chart.data, { raw: { width: chart.width, height: chart.height, channels: 3 } });
/** The patch chart as an Adobe (inverted) CMYK JPEG carrying sharp's CMYK profile. */
const taggedChart = async () => new Uint8Array(await rawChart().withIccProfile("cmyk").jpeg({ quality: 100 }).toBuffer());
const cmykProfileOf = async (jpeg: Uint8Array) => new Uint8Array((await sharp(jpeg).metadata()).icc!);

describe("a CMYK JPEG with an embedded CMYK profile is converted through it", () => {
  it("full size: within mean ΔE76 3.5 of sharp's ICC-aware sRGB, and far closer than the naive conversion", async () => {
    const jpeg = await taggedChart();
    expect(readJpegHeader(jpeg)).toMatchObject({ colorSpace: "cmyk", adobe: true });
    const { out } = await render(jpeg, target({ width: chart.width, height: chart.height }));
    const sharpSrgb = await srgbPixels(jpeg);
    const d = deltaE(await srgbPixels(out.bytes), sharpSrgb);
    console.log(`tagged CMYK JPEG, full size: mean ΔE76 ${d.mean.toFixed(2)}, max ${d.max.toFixed(1)}`);
    // The same bound as the A2B path alone (icc.test.ts): lcms samples its own device link.
    expect(d.mean).toBeLessThan(3.5);
    const ink = await sharp(jpeg).pipelineColourspace("cmyk").toColourspace("cmyk").raw().toBuffer();
    expect(deltaE(cmykInkToRgb(ink), sharpSrgb).mean, "the naive conversion is far worse").toBeGreaterThan(3 * d.mean);
  });

  it("downscaled (decoded at 1/4, converted, resized): within mean ΔE76 3.5 of sharp's resize", async () => {
    const photo = await sharp(picture(1600, 1200), { raw: { width: 1600, height: 1200, channels: 4 } }).removeAlpha()
      .withIccProfile("cmyk").jpeg({ quality: 95 }).toBuffer();
    const { out, report } = await render(photo, target({ width: 400, height: 300 }));
    expect(report.plan.scale).toBe(4);
    const ref = new Uint8Array(await sharp(photo).resize(400, 300).removeAlpha().raw().toBuffer());
    const d = deltaE(await srgbPixels(out.bytes), ref);
    console.log(`tagged CMYK photo 1600×1200 → 400×300: mean ΔE76 ${d.mean.toFixed(2)}, max ${d.max.toFixed(1)}`);
    expect(d.mean).toBeLessThan(3.5);
    const ink = await sharp(photo).pipelineColourspace("cmyk").resize(400, 300).toColourspace("cmyk").raw().toBuffer();
    expect(deltaE(cmykInkToRgb(ink), ref).mean, "the naive conversion is far worse").toBeGreaterThan(3.5);
  });

  it("YCCK (Adobe transform 2) with the profile: its ink goes through the profile like plain CMYK", async () => {
    const width = 64, height = 48, rgb = syntheticPhoto(width, height, 5);
    const ink = new Uint8Array(width * height * 4);
    for (let i = 0; i < width * height; i++) {
      for (let c = 0; c < 3; c++) ink[i * 4 + c] = 255 - rgb[i * 3 + c];
      ink[i * 4 + 3] = (i % width) * 2;
    }
    // YCCK is YCbCr of the ink's C, M, Y; K is stored inverted (as in jpeg.test.ts).
    const inkCmy = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) for (let c = 0; c < 3; c++) inkCmy[i * 3 + c] = ink[i * 4 + c];
    const planes = [...yccPlanes(inkCmy, width, height), Uint8Array.from({ length: width * height }, (_, i) => 255 - ink[i * 4 + 3])];
    const untagged = encodeBaseline({ width, height, planes, sampling: [[1, 1], [1, 1], [1, 1], [1, 1]], adobeTransform: 2 });
    const profileBytes = await cmykProfileOf(await taggedChart());
    const jpeg = embedIccInJpeg(untagged, profileBytes);
    expect(readJpegHeader(jpeg).colorSpace).toBe("ycck");
    const { out } = await render(jpeg, target({ width, height }));
    const expected = new Uint8Array(width * height * 3);
    cmykToSrgb(compositeLut(parseIccProfile(profileBytes).a2b!), ink, expected);
    const ours = await srgbPixels(out.bytes);
    const d = deltaE(ours, expected);
    console.log(`tagged YCCK vs the ink through the profile: mean ΔE76 ${d.mean.toFixed(2)}, max ${d.max.toFixed(1)}`);
    expect(d.mean).toBeLessThan(1.5); // JPEG quantisation of the fixture only
    // Independently: sharp (libjpeg's YCCK → CMYK, then lcms) reads the same file alike.
    expect(deltaE(ours, await srgbPixels(jpeg)).mean).toBeLessThan(3.5);
    expect(deltaE(ours, cmykInkToRgb(ink)).mean, "not the naive conversion").toBeGreaterThan(5);
  });

  it("metadata=keep still converts: a CMYK profile cannot describe the RGB output, and the output does not carry it", async () => {
    const jpeg = await taggedChart();
    const t = target({ width: chart.width, height: chart.height });
    const [kept, stripped] = [await render(jpeg, { ...t, metadata: "keep" }), await render(jpeg, t)];
    expect((await sharp(kept.out.bytes).metadata()).icc).toBeUndefined();
    expect(Buffer.from(kept.out.bytes).equals(Buffer.from(stripped.out.bytes))).toBe(true);
  });
});

describe("our JPEG decoder's CMYK ink output", () => {
  const width = 64, height = 48, rgb = syntheticPhoto(width, height, 5);

  it("undoes Adobe's inversion: sharp's CMYK JPEG decodes to the ink libvips reads, at every scale", async () => {
    const jpeg = new Uint8Array(await sharp(rgb, { raw: { width, height, channels: 3 } }).toColourspace("cmyk").jpeg({ quality: 95 }).toBuffer());
    expect(readJpegHeader(jpeg)).toMatchObject({ colorSpace: "cmyk", adobe: true });
    for (const scale of [1, 2, 4, 8] as const) {
      const decoded = decodeJpeg(modules.jpeg!, jpeg, scale, { cmykInk: true });
      expect(decoded).toMatchObject({ width: Math.ceil(width / scale), height: Math.ceil(height / scale), channels: 4 });
      const ink = await sharp(jpeg).pipelineColourspace("cmyk").resize(decoded.width, decoded.height, { kernel: "cubic" }).toColourspace("cmyk").raw().toBuffer();
      expect(psnr(decoded.data, new Uint8Array(ink)), `1/${scale}`).toBeGreaterThan(scale === 1 ? 40 : 25);
    }
  });

  it("reads CMYK without an Adobe marker as ink as stored; an RGB JPEG ignores the option", async () => {
    const planes = [0, 1, 2, 3].map((c) => Uint8Array.from({ length: width * height }, (_, i) => (c === 3 ? 40 : 255 - rgb[i * 3 + c])));
    const jpeg = encodeBaseline({ width, height, planes, sampling: [[1, 1], [1, 1], [1, 1], [1, 1]] });
    expect(readJpegHeader(jpeg)).toMatchObject({ colorSpace: "cmyk", adobe: false });
    const ink = new Uint8Array(width * height * 4);
    for (let i = 0; i < width * height; i++) for (let c = 0; c < 4; c++) ink[i * 4 + c] = planes[c][i];
    expect(psnr(decodeJpeg(modules.jpeg!, jpeg, 1, { cmykInk: true }).data, ink)).toBeGreaterThan(40);
    const rgbJpeg = new Uint8Array(await sharp(rgb, { raw: { width, height, channels: 3 } }).jpeg().toBuffer());
    expect(decodeJpeg(modules.jpeg!, rgbJpeg, 1, { cmykInk: true }).channels).toBe(3);
  });

  it("the decode's memory estimate covers the instance with the 4-byte ink output, at every scale", async () => {
    const [w, h] = [1200, 800];
    const jpeg = new Uint8Array(await sharp(syntheticPhoto(w, h), { raw: { width: w, height: h, channels: 3 } }).toColourspace("cmyk").jpeg({ quality: 85 }).toBuffer());
    const header = readJpegHeader(jpeg);
    for (const scale of [1, 2, 4, 8] as const) {
      const { heapBytes } = decodeLoadedJpeg(loadJpeg(modules.jpeg!, jpeg), scale, { header, cmykInk: true });
      const estimate = estimateJpegDecodeBytes(header, scale, true);
      expect(estimate, `1/${scale}`).toBeGreaterThanOrEqual(heapBytes);
      expect(estimate, `1/${scale}`).toBeLessThan(heapBytes * 1.25 + 256 * 1024);
    }
  });
});

describe("the ink → sRGB interpolation", () => {
  it("tetrahedral-in-CMY, linear-in-K, in place, agrees with the plain quadrilinear conversion within a level", async () => {
    const profile = parseIccProfile(await cmykProfileOf(await taggedChart()));
    const composite = compositeLut(profile.a2b!);
    const pixels = 500_000;
    const ink = Uint8Array.from({ length: pixels * 4 }, (_, i) => (i * 7919) >> 3);
    const quadrilinear = new Uint8Array(pixels * 3);
    cmykToSrgb(composite, ink, quadrilinear);
    const data = ink.slice();
    const start = performance.now();
    inkToSrgbInPlace(composite, data, pixels);
    // The per-pixel cost, for the README (timed, not asserted: the machine is shared).
    console.log(`CMYK ink → sRGB: ${((performance.now() - start) * 2).toFixed(0)} ms per megapixel`);
    let max = 0, sum = 0;
    for (let i = 0; i < pixels * 3; i++) {
      const d = Math.abs(data[i] - quadrilinear[i]);
      sum += d;
      max = Math.max(max, d);
    }
    expect(max).toBeLessThanOrEqual(1);
    expect(sum / (pixels * 3)).toBeLessThan(0.1);
  });
});

describe("a CMYK JPEG without a profile is converted naively, as before", () => {
  it("sharp's untagged CMYK decodes to (1−C)(1−K)", async () => {
    const jpeg = new Uint8Array(await rawChart().toColourspace("cmyk").jpeg({ quality: 100 }).toBuffer());
    expect((await sharp(jpeg).metadata()).icc).toBeUndefined();
    const { out } = await render(jpeg, target({ width: chart.width, height: chart.height }));
    const ink = await sharp(jpeg).pipelineColourspace("cmyk").toColourspace("cmyk").raw().toBuffer();
    expect(deltaE(await srgbPixels(out.bytes), cmykInkToRgb(ink)).mean).toBeLessThan(0.5);
  });

  it("a CMYK JPEG whose profile is RGB (mislabelled) ignores it, as libvips does: naive, and not kept", async () => {
    const untagged = new Uint8Array(await rawChart().toColourspace("cmyk").jpeg({ quality: 100 }).toBuffer());
    const p3 = new Uint8Array((await sharp(await rawChart().withIccProfile("p3").png().toBuffer()).metadata()).icc!);
    const t = target({ width: chart.width, height: chart.height });
    const [a, b] = [await render(embedIccInJpeg(untagged, p3), { ...t, metadata: "keep" }), await render(untagged, t)];
    expect(Buffer.from(a.out.bytes).equals(Buffer.from(b.out.bytes))).toBe(true);
  });
});

describe("memory", () => {
  it("the plan holds the measured peak, and plans the ink's 4th byte a pixel and the conversion's tables", async () => {
    const photo = sharp(picture(1600, 1200), { raw: { width: 1600, height: 1200, channels: 4 } }).removeAlpha();
    const tagged = new Uint8Array(await photo.clone().withIccProfile("cmyk").jpeg({ quality: 90 }).toBuffer());
    const untagged = new Uint8Array(await photo.clone().toColourspace("cmyk").jpeg({ quality: 90 }).toBuffer());
    // Admission plans from the first bytes, where the profile may not be whole yet: every CMYK file as if tagged.
    const source = await probe(untagged);
    const m = { inputBytes: untagged.length, width: 1600, height: 1200, scale: 1 as const };
    const [planned, read] = [(b: Uint8Array) => FORMATS.jpeg.planningDecoders(b, source, b.length)[0].memory(m),
      (b: Uint8Array) => FORMATS.jpeg.read(b, source, modules).decoders[0].memory(m)];
    expect(planned(tagged)).toEqual(read(tagged));
    // A byte a pixel more (the heap estimate is rounded to 64 KiB pages) and the tables.
    expect(planned(untagged).decodeBytes - read(untagged).decodeBytes).toBeGreaterThanOrEqual(1600 * 1200 - 65536 + CMYK_TABLE_BYTES);
    for (const t of [target({ width: 1600, height: 1200, format: "jpeg" }), target({ width: 400, height: 300, format: "webp" })]) {
      const [a, b] = [await render(tagged, t), await render(untagged, t)];
      expect(a.report.measuredPeakBytes).toBeLessThanOrEqual(a.report.plan.peakBytes);
      const decode = (r: RenderReport) => r.plan.phases.find((p) => p.phase.startsWith("decode"))!.bytes;
      const pixels = (1600 / a.report.plan.scale) * (1200 / a.report.plan.scale);
      // The file differs by its profile; the decode by at least a byte a pixel (ink) and the tables.
      expect(decode(a.report) - tagged.length - (decode(b.report) - untagged.length)).toBeGreaterThanOrEqual(pixels - 65536 + CMYK_TABLE_BYTES);
    }
  });
});

describe("without our JPEG kernel", () => {
  it("a CMYK JPEG is refused as unsupported: jSquash's mozjpeg cannot hand back CMYK", async () => {
    const plain = await loadEngineModules({ kernels: false });
    await expect(render(await taggedChart(), target({ width: 64, height: 64 }), plain)).rejects.toMatchObject({ kind: "unsupported" });
  });
});
