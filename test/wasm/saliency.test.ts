/**
 * gravity=auto (wasm/src/saliency.ts through the engine): a crop to a very different aspect keeps the salient
 * subject where the centre crop would cut it off, agrees with sharp's `position: "attention"` on where the subject
 * is, and plans and cascades honestly.
 */
import { beforeAll, describe, expect, it } from "vitest";
import sharp from "sharp";
import { renderTargets, type EngineModules, type RenderReport, type RenderTarget } from "../../wasm/src/engine.ts";
import { loadEngineModules } from "../../wasm/src/modules.node.ts";
import { attentionWindow } from "../../wasm/src/saliency.ts";
import { probeImage } from "../../wasm/src/probe.ts";
import { renderTargetsOf } from "../../workers/shared/eager-set.ts";
import { parseFlexibleOptions, transformFingerprint } from "../../workers/shared/transform.ts";
import { probe } from "./fixtures.ts";
import { SALIENCY_BACKGROUND, subjectOnFlat, type Subject } from "../fixtures/saliency.ts";

let modules: EngineModules;
const maxPixels = 100_000_000;
const BACKGROUND = SALIENCY_BACKGROUND;
/** An attention crop anywhere in the 600×200 fixtures of the cascade tests. */
const ATTENTION_IN_WHOLE = { strategy: "attention", within: { left: 0, top: 0, width: 600, height: 200 } } as const;

/** Pixels of a rendered output that are not the background: the part of the subject it shows. */
async function subjectPixels(output: Uint8Array): Promise<number> {
  const { data } = await sharp(output).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let n = 0;
  for (let i = 0; i < data.length; i += 3) {
    if (Math.abs(data[i] - BACKGROUND[0]) + Math.abs(data[i + 1] - BACKGROUND[1]) + Math.abs(data[i + 2] - BACKGROUND[2]) > 40) n++;
  }
  return n;
}

/** Renders `input` with flexible-variant options, as delivery would. */
async function renderWith(input: Buffer, options: string, report?: (r: RenderReport) => void): Promise<Uint8Array> {
  const source = await probe(input);
  const transform = parseFlexibleOptions(options);
  const targets = renderTargetsOf(source, [{ transform, format: "png", fingerprint: await transformFingerprint(transform), variant: null }]);
  const [out] = await renderTargets(input, source, targets, { modules, maxPixels }, report);
  return out.bytes;
}

describe.each([
  { path: "kernels", useKernels: true },
  { path: "jSquash only", useKernels: false },
])("gravity=auto on $path", ({ useKernels }) => {
  beforeAll(async () => {
    modules = await loadEngineModules({ kernels: useKernels });
  });

  const cases: Array<{ name: string; width: number; height: number; subject: Subject; options: string; scale: number }> = [
    { name: "a square from 3:1 keeps a subject at the left edge", width: 600, height: 200, subject: { left: 8, top: 60, size: 80 }, options: "fit=cover,w=200,h=200,g=auto", scale: 1 },
    { name: "1:3 from 4:3 keeps a subject at the bottom right", width: 400, height: 300, subject: { left: 310, top: 210, size: 80 }, options: "fit=cover,w=100,h=300,g=auto", scale: 1 },
    { name: "a square from 1:3 keeps a subject at the top", width: 300, height: 900, subject: { left: 110, top: 6, size: 80 }, options: "fit=crop,w=300,h=300,g=auto", scale: 1 },
    { name: "a downscaled square from 3:1 keeps a subject at the right edge", width: 1200, height: 400, subject: { left: 1030, top: 150, size: 160 }, options: "fit=cover,w=200,h=200,g=auto", scale: 0.5 },
  ];
  it.each(cases)("$name, which the centre crop cuts off", async ({ width, height, subject, options, scale }) => {
    const input = await subjectOnFlat(width, height, subject);
    const whole = subject.size * subject.size * scale * scale;
    expect(await subjectPixels(await renderWith(input, options))).toBeGreaterThan(0.95 * whole);
    expect(await subjectPixels(await renderWith(input, options.replace("g=auto", "g=center")))).toBeLessThan(0.05 * whole);
  });

  it("finds the subject where sharp's attention strategy does", async () => {
    const subject = { left: 420, top: 40, size: 90 };
    const input = await subjectOnFlat(600, 200, subject);
    const ours = await subjectPixels(await renderWith(input, "fit=cover,w=200,h=200,g=auto"));
    const { data, info } = await sharp(input).resize(200, 200, { fit: "cover", position: "attention" }).png().toBuffer({ resolveWithObject: true });
    // sharp puts the subject inside its window too; both windows hold all of it.
    expect(await subjectPixels(data)).toBeGreaterThan(0.95 * subject.size ** 2);
    expect(ours).toBeGreaterThan(0.95 * subject.size ** 2);
    // sharp reports the window's offset negated.
    const sharpLeft = -info.cropOffsetLeft!;
    expect(sharpLeft).toBeGreaterThanOrEqual(subject.left + subject.size - 200);
    expect(sharpLeft).toBeLessThanOrEqual(subject.left);
  });

  it("centres a subject smaller than the window instead of leaving it against an edge", async () => {
    const subject = { left: 260, top: 50, size: 60 };
    const input = await subjectOnFlat(900, 300, subject);
    const out = await renderWith(input, "fit=cover,w=300,h=300,g=auto");
    const { data } = await sharp(out).raw().toBuffer({ resolveWithObject: true });
    // The subject's columns in the output: its centre (290 in the source) lands in the middle of the 300 px window.
    const columns: number[] = [];
    for (let x = 0; x < 300; x++) {
      const i = (100 * 300 + x) * 3;
      if (Math.abs(data[i] - BACKGROUND[0]) > 20) columns.push(x);
    }
    const centre = (columns[0] + columns.at(-1)!) / 2;
    expect(Math.abs(centre - 150)).toBeLessThanOrEqual(3);
  });

  it("crops a picture with nothing salient like gravity=center", async () => {
    const flat = await sharp({ create: { width: 600, height: 200, channels: 3, background: { r: 90, g: 120, b: 150 } } }).png().toBuffer();
    const auto = await sharp(await renderWith(flat, "fit=cover,w=200,h=200,g=auto")).raw().toBuffer();
    const centre = await sharp(await renderWith(flat, "fit=cover,w=200,h=200,g=center")).raw().toBuffer();
    expect(auto.equals(centre)).toBe(true);
  });

  it("keeps the crop inside what a trim keeps, even when the subject is outside it", async () => {
    const input = await subjectOnFlat(600, 200, { left: 8, top: 60, size: 80 });
    // trim=top;right;bottom;left: the left 150 px, with the subject, are cut before the crop is placed.
    expect(await subjectPixels(await renderWith(input, "trim=0;0;0;150,fit=cover,w=200,h=200,g=auto"))).toBe(0);
    const right = { left: 500, top: 60, size: 80 };
    const trimmedRight = await subjectOnFlat(600, 200, right);
    // The subject sits at the right edge of what the trim keeps (x < 590): the crop goes there, not past it.
    expect(await subjectPixels(await renderWith(trimmedRight, "trim=0;10;0;0,fit=cover,w=200,h=200,g=auto"))).toBeGreaterThan(0.95 * right.size ** 2);
  });

  it("places an animation's crop on its first frame and keeps it for every frame", async () => {
    const subject = { left: 6, top: 30, size: 40 };
    const still = await sharp(await subjectOnFlat(300, 100, subject)).ensureAlpha().raw().toBuffer();
    // Each frame differs in one corner pixel, or the encoder would merge them into one.
    const frames3 = [0, 1, 2].map((f) => Buffer.from(still).fill(200 + 2 * f, still.length - 4, still.length - 1));
    const animated = await sharp(Buffer.concat(frames3), { raw: { width: 300, height: 300, channels: 4, pageHeight: 100 } })
      .webp({ lossless: true, delay: [100, 100, 100], loop: 0 }).toBuffer();
    const source = await probe(animated);
    const transform = parseFlexibleOptions("fit=cover,w=100,h=100,g=auto,f=webp");
    const [target] = renderTargetsOf(source, [{ transform, format: "webp", fingerprint: "", variant: null }]);
    const [out] = await renderTargets(animated, source, [target], { modules, maxPixels });
    const frames = await sharp(out.bytes, { pages: -1 }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    expect((await sharp(out.bytes).metadata()).pages).toBe(3);
    expect(frames.info).toMatchObject({ width: 100, height: 300 });
    const frameBytes = 100 * 100 * 3;
    for (let f = 0; f < 3; f++) {
      const png = await sharp(frames.data.subarray(f * frameBytes, (f + 1) * frameBytes), { raw: { width: 100, height: 100, channels: 3 } }).png().toBuffer();
      expect(await subjectPixels(png), `frame ${f}`).toBeGreaterThan(0.9 * subject.size ** 2);
    }
  });

  it("places the crop in an SVG rasterised at the target's scale", async () => {
    // 1200×400, a striped skin-toned 160 px subject at the right edge; rendered at a quarter of that size.
    const stripes = Array.from({ length: 20 }, (_, i) => `<rect x="${1020 + 8 * i}" y="120" width="4" height="160" fill="#966450"/>`).join("");
    const svg = new TextEncoder().encode(`<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="400"><rect width="1200" height="400" fill="#c8c8c8"/>` +
      `<rect x="1020" y="120" width="160" height="160" fill="#e0ac8c"/>${stripes}</svg>`);
    const source = probeImage(svg)!;
    const transform = parseFlexibleOptions("fit=cover,w=100,h=100,g=auto");
    const [target] = renderTargetsOf(source, [{ transform, format: "png", fingerprint: "", variant: null }]);
    const [out] = await renderTargets(svg, source, [target], { modules, maxPixels });
    expect(await subjectPixels(out.bytes)).toBeGreaterThan(0.9 * 40 * 40);
  });

  it("places the crop in the oriented picture of a JPEG with EXIF orientation 6", async () => {
    const subject = { left: 10, top: 70, size: 80 };
    const input = await subjectOnFlat(600, 200, subject, "jpeg", 6);
    expect((await probe(input)).orientation).toBe(6);
    expect(await subjectPixels(await renderWith(input, "fit=cover,w=200,h=200,g=auto"))).toBeGreaterThan(0.9 * subject.size ** 2);
  });

  it("plans the analysis and keeps a centre crop of the same size apart from the attention crop", async () => {
    const subject = { left: 8, top: 60, size: 80 };
    const input = await subjectOnFlat(600, 200, subject, "jpeg");
    const source = await probe(input);
    const centre: RenderTarget = { width: 200, height: 200, crop: { left: 200, top: 0, width: 200, height: 200 }, format: "png", quality: 85, metadata: "none" };
    let report: RenderReport | undefined;
    const [auto, centred] = await renderTargets(input, source, [{ ...centre, cropPlacement: ATTENTION_IN_WHOLE }, centre], { modules, maxPixels }, (r) => (report = r));
    expect(report!.plan.phases.map((p) => p.phase)).toContain("attention analysis (256×85)");
    expect(report!.plan.steps.map((s) => s.from)).toEqual(["source", "source"]);
    expect(await subjectPixels(auto.bytes)).toBeGreaterThan(0.9 * subject.size ** 2);
    expect(await subjectPixels(centred.bytes)).toBeLessThan(100);
  });

  it("cuts a small attention crop from a larger content of the whole picture, placed on the subject", async () => {
    const subject = { left: 8, top: 60, size: 80 };
    const input = await subjectOnFlat(600, 200, subject);
    const source = await probe(input);
    const targets: RenderTarget[] = [
      { width: 600, height: 200, format: "png", quality: 85, metadata: "none" },
      { width: 50, height: 50, crop: { left: 200, top: 0, width: 200, height: 200 }, cropPlacement: ATTENTION_IN_WHOLE, format: "png", quality: 85, metadata: "none" },
    ];
    let report: RenderReport | undefined;
    const [, small] = await renderTargets(input, source, targets, { modules, maxPixels }, (r) => (report = r));
    expect(report!.plan.steps.map((s) => s.from)).toEqual(["source", "previous"]);
    expect(await subjectPixels(small.bytes)).toBeGreaterThan(0.9 * (subject.size / 4) ** 2);
  });
});

describe("attentionWindow", () => {
  it("takes the window holding the most attention, centred on it", () => {
    const w = 30, h = 10, score = new Float32Array(w * h);
    score[5 * w + 10] = 10;
    // Every window from left 6 to 10 holds it; the one centred on it starts at 8.
    expect(attentionWindow(score, w, h, 5, 10)).toEqual({ left: 8, top: 0 });
  });

  it("keeps the centred window when nothing scores", () => {
    expect(attentionWindow(new Float32Array(200), 20, 10, 6, 10)).toEqual({ left: 7, top: 0 });
  });
});
