import { beforeAll, describe, expect, it } from "vitest";
import sharp, { type Sharp } from "sharp";
import { renderTargets, CodecError, AVIF_MAX_DIMENSION, type RenderTarget, type RenderReport, type SourceInfo, type EngineModules } from "../../wasm/src/engine.ts";
import { kernels } from "../../wasm/src/kernels.ts";
import { loadEngineModules } from "../../wasm/src/modules.node.ts";
import { REUSABLE_ENCODER_HEAP_BYTES, idleWebpEncoderBytes } from "../../wasm/src/codecs/instances.ts";
import { H, MARK, W, inputSet, jpegWithOrientation, picture, probe, psnr, rgbOnWhite } from "./fixtures.ts";

let modules: EngineModules;
let inputs: Record<string, Buffer>;
const maxPixels = 100_000_000;

beforeAll(async () => {
  inputs = await inputSet();
});

const target = (t: Partial<RenderTarget> & Pick<RenderTarget, "width" | "height" | "format">): RenderTarget =>
  ({ quality: 85, metadata: "none", ...t });

async function render(input: Uint8Array, targets: RenderTarget[], extra: { memoryBudgetBytes?: number; report?: (r: RenderReport) => void } = {}) {
  const source = await probe(input);
  return renderTargets(input, source, targets, { modules, maxPixels, memoryBudgetBytes: extra.memoryBudgetBytes }, extra.report);
}

/** Runs `fn` and returns the CodecError it threw; fails on success or on any other error type. */
async function codecError(fn: () => Promise<unknown>): Promise<CodecError> {
  try {
    await fn();
  } catch (e) {
    if (e instanceof CodecError) return e;
    throw new Error(`expected a CodecError, got ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
  }
  throw new Error("expected a CodecError, but the call succeeded");
}

/** sharp's own render of the same target: orient, crop, resize (Lanczos3, exact size), lossless. */
async function sharpRender(input: Uint8Array, t: RenderTarget): Promise<Buffer> {
  let s = sharp(input).rotate();
  if (t.crop) s = s.extract(t.crop);
  return s.resize(t.width, t.height, { fit: "fill", kernel: "lanczos3" }).png().toBuffer();
}

const cmykNeedsKernel = () => !(kernels.jpeg && modules.jpeg);

// Every behaviour is checked on both engine paths: with our JPEG/resize kernels (wasm/build present), and on
// jSquash alone (mozjpeg full-size decode + the TypeScript resampler), which a Worker without them runs.
describe.each([
  { path: "kernels", useKernels: true },
  { path: "jSquash only", useKernels: false },
])("engine on $path", ({ useKernels }) => {
  beforeAll(async () => {
    modules = await loadEngineModules({ kernels: useKernels });
    if (useKernels) expect(modules.jpeg && modules.resize, "run npm run build:wasm first").toBeTruthy();
  });

  describe("every input format renders every output format at the requested size", () => {
    const names = [
      "inputJpgBaseline", "inputJpgProgressive", "inputJpgGray", "inputJpgCmyk", "inputJpgWithExifOrientation6",
      "inputJpgWithExifOrientation8", "inputPng8", "inputPng16", "inputPngPalette", "inputPngGrayAlpha",
      "inputPngInterlaced", "inputWebpLossy", "inputWebpLossless", "inputWebpAlpha", "inputAvif", "inputAvif10bit", "inputGif",
    ];
    const targets: RenderTarget[] = [
      target({ width: 240, height: 160, format: "webp" }),
      target({ width: 120, height: 80, format: "jpeg" }),
      target({ width: 64, height: 64, crop: { left: 40, top: 0, width: 160, height: 160 }, format: "avif" }),
      target({ width: 90, height: 60, canvas: { width: 100, height: 100, background: [0, 0, 0, 0] }, format: "png" }),
    ];
    const formats = { webp: "webp", jpeg: "jpeg", avif: "heif", png: "png" } as const;

    it.each(names)("%s", async (name) => {
      const input = inputs[name];
      if (name === "inputJpgCmyk" && cmykNeedsKernel()) {
        const e = await codecError(() => render(input, targets));
        expect(e.kind).toBe("unsupported");
        return;
      }
      const source = await probe(input);
      expect([source.width, source.height]).toEqual([W, H]); // orientation is a tag; pixels stay stored as W×H
      // Crops are in oriented coordinates; the 160×160 crop fits either way round.
      const outputs = await render(input, targets);
      expect(outputs).toHaveLength(targets.length);
      for (const [i, out] of outputs.entries()) {
        const t = targets[i];
        const meta = await sharp(out.bytes).metadata();
        expect(meta.format).toBe(formats[t.format]);
        expect(out.format).toBe(t.format);
        expect(out.contentType).toBe(`image/${t.format}`);
        expect([meta.width, meta.height]).toEqual([t.canvas?.width ?? t.width, t.canvas?.height ?? t.height]);
        expect([out.width, out.height]).toEqual([meta.width, meta.height]);
      }
    });
  });

  describe("orientation", () => {
    // Where the stored top-left marker must appear on the displayed image.
    const corner = { 1: "top-left", 3: "bottom-right", 6: "top-right", 8: "bottom-left" } as const;

    it.each(Object.entries(corner).map(([o, where]) => [Number(o) as 1 | 3 | 6 | 8, where] as const))("EXIF orientation %i puts the stored top-left marker %s", async (o) => {
      const input = await jpegWithOrientation(o);
      const [full, small] = await render(input, [
        target({ width: o >= 5 ? H : W, height: o >= 5 ? W : H, format: "png" }),
        target({ width: o >= 5 ? 80 : 120, height: o >= 5 ? 120 : 80, format: "png" }),
      ]);
      for (const out of [full, small]) {
        const { data, width, height } = await rgbOnWhite(out.bytes);
        const m = Math.round((MARK * width) / (o >= 5 ? H : W) / 2); // middle of the marker, scaled
        const at = (x: number, y: number) => [...data.subarray((y * width + x) * 3, (y * width + x) * 3 + 3)];
        const spots = { "top-left": at(m, m), "top-right": at(width - 1 - m, m), "bottom-left": at(m, height - 1 - m), "bottom-right": at(width - 1 - m, height - 1 - m) };
        for (const [where, rgb] of Object.entries(spots)) {
          const red = rgb[0] > 180 && rgb[1] < 70 && rgb[2] < 70;
          expect(red, `${where} of ${width}×${height} is ${rgb}`).toBe(where === corner[o]);
        }
      }
    });
  });

  describe("alpha", () => {
    const transparentX = (w: number) => w - 2; // the right edge fades to alpha 0

    it.each(["png", "webp", "avif"] as const)("is preserved in %s", async (format) => {
      const [out] = await render(inputs.inputPngInterlaced, [target({ width: 240, height: 160, format, quality: 90 })]);
      const { data, info } = await sharp(out.bytes).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
      expect(info.channels).toBe(4);
      expect(data[(80 * 240 + transparentX(240)) * 4 + 3]).toBeLessThan(16);
      expect(data[(80 * 240 + 20) * 4 + 3]).toBeGreaterThan(240);
    });

    it("is flattened onto the background in JPEG", async () => {
      const [white, red] = await render(inputs.inputPngInterlaced, [
        target({ width: 240, height: 160, format: "jpeg" }),
        target({ width: 240, height: 160, format: "jpeg", background: [255, 0, 0] }),
      ]);
      for (const [out, bg] of [[white, [255, 255, 255]], [red, [255, 0, 0]]] as const) {
        const { data, info } = await sharp(out.bytes).raw().toBuffer({ resolveWithObject: true });
        expect(info.channels).toBe(3);
        const i = (80 * 240 + transparentX(240)) * 3;
        for (let c = 0; c < 3; c++) expect(Math.abs(data[i + c] - bg[c])).toBeLessThan(24);
      }
    });

    it("pads with the canvas background, transparent in PNG", async () => {
      const [out] = await render(inputs.inputPng8, [
        target({ width: 150, height: 100, canvas: { width: 150, height: 150, background: [0, 0, 255, 0] }, format: "png" }),
      ]);
      const { data } = await sharp(out.bytes).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
      expect(data[(5 * 150 + 75) * 4 + 3]).toBe(0); // top band is padding
      expect(data[(75 * 150 + 75) * 4 + 3]).toBe(255); // centre is content
    });
  });

  describe("content matches sharp's render of the same target", () => {
    // Measured, PNG output vs sharp's PNG. jSquash path (mozjpeg decode + TS Lanczos3): downscales 50–56 dB
    // (odd sizes, crops, orientation 6/8, 16-bit), 75 dB on a smooth crop; the 1.25× upscale 37.5 dB (edge
    // handling differs); WebP q90 37.8 dB, JPEG q90 45.7 dB. Kernel path: non-JPEG inputs as above; JPEG inputs
    // 37.7–43.5 dB, because both sides shrink on load in the DCT domain but with different reduced IDCTs and
    // chroma upsampling (ours vs libjpeg-turbo's). Thresholds sit a few dB below the worst measured value so
    // codec drift passes, while a half-pixel shift, a wrong crop or orientation, a gamma-space mismatch or
    // unpremultiplied alpha falls well below (see the shifted-crop case: < 30 dB).
    const cases: Array<[string, RenderTarget, number]> = [
      ["inputJpgBaseline", target({ width: 240, height: 160, format: "png" }), 40],
      ["inputJpgProgressive", target({ width: 97, height: 61, format: "png" }), 35],
      ["inputJpgWithExifOrientation6", target({ width: 160, height: 240, format: "png" }), 40],
      ["inputJpgWithExifOrientation8", target({ width: 100, height: 100, crop: { left: 20, top: 150, width: 200, height: 200 }, format: "png" }), 40],
      ["inputPng8", target({ width: 300, height: 200, format: "png" }), 45],
      ["inputPng16", target({ width: 160, height: 120, crop: { left: 100, top: 50, width: 320, height: 240 }, format: "png" }), 45],
      ["inputWebpLossless", target({ width: 600, height: 400, format: "png" }), 34],
      ["inputPngInterlaced", target({ width: 240, height: 160, format: "png" }), 45],
      ["inputJpgBaseline", target({ width: 240, height: 160, format: "webp", quality: 90 }), 34],
      ["inputJpgBaseline", target({ width: 240, height: 160, format: "jpeg", quality: 90 }), 40],
    ];
    it.each(cases)("%s → %j", async (name, t, threshold) => {
      const input = inputs[name];
      const [ours] = await render(input, [t]);
      const a = await rgbOnWhite(ours.bytes);
      const b = await rgbOnWhite(await sharpRender(input, t));
      expect([a.width, a.height]).toEqual([b.width, b.height]);
      if (process.env.PSNR_LOG) console.log(name, JSON.stringify(t), psnr(a.data, b.data).toFixed(2));
      expect(psnr(a.data, b.data)).toBeGreaterThanOrEqual(threshold);
    });

    it("a shifted crop is detected (the comparison can fail)", async () => {
      const t = target({ width: 100, height: 100, crop: { left: 100, top: 100, width: 200, height: 200 }, format: "png" });
      const [ours] = await render(inputs.inputPng8, [t]);
      const shifted = await sharpRender(inputs.inputPng8, { ...t, crop: { ...t.crop!, left: 110 } });
      expect(psnr((await rgbOnWhite(ours.bytes)).data, (await rgbOnWhite(shifted)).data)).toBeLessThan(30);
    });
  });

  describe("cascade", () => {
    // PNG: both renders resample the same decoded pixels, so only the cascade differs (measured 40+ dB).
    // JPEG: alone, the small target decodes at 1/8 (DC only, an 8×8 box); cascaded, it is Lanczos3 from the
    // 1/2-scale intermediate — two different filters (measured 33 dB with the kernels).
    it.each([["png", 38], ["jpeg", 31]] as const)("renders small targets from the larger intermediate (%s), close to an independent render", async (format, threshold) => {
      const raw = sharp(picture(1600, 1200), { raw: { width: 1600, height: 1200, channels: 4 } }).removeAlpha();
      const input = format === "png" ? await raw.png().toBuffer() : await raw.jpeg({ quality: 92 }).toBuffer();
      const small = target({ width: 200, height: 150, format: "png" });
      let plan: RenderReport["plan"] | undefined;
      const [, cascaded] = await render(input, [target({ width: 800, height: 600, format: "png" }), small], { report: (r) => (plan = r.plan) });
      expect(plan!.steps.map((s) => s.from)).toEqual(["source", "previous"]);
      const [alone] = await render(input, [small]);
      const value = psnr((await rgbOnWhite(cascaded.bytes)).data, (await rgbOnWhite(alone.bytes)).data);
      if (process.env.PSNR_LOG) console.log("cascade", format, value.toFixed(2));
      expect(value).toBeGreaterThanOrEqual(threshold);
    });

    it("reuses the content for a same-size target in another format (WebP + its JPEG fallback)", async () => {
      let plan: RenderReport["plan"] | undefined;
      const [webp, jpeg] = await render(inputs.inputPng8, [
        target({ width: 300, height: 200, format: "webp", quality: 90 }),
        target({ width: 300, height: 200, format: "jpeg", quality: 90 }),
      ], { report: (r) => (plan = r.plan) });
      expect(plan!.steps.map((s) => s.from)).toEqual(["source", "same"]);
      expect(psnr((await rgbOnWhite(webp.bytes)).data, (await rgbOnWhite(jpeg.bytes)).data)).toBeGreaterThanOrEqual(34);
    });

    it("keeps the caller's order and uses the source when the intermediate is under 2×", async () => {
      let plan: RenderReport["plan"] | undefined;
      const outs = await render(inputs.inputPng8, [
        target({ width: 100, height: 66, format: "png" }),
        target({ width: 300, height: 200, format: "png" }),
        target({ width: 200, height: 133, format: "png" }),
      ], { report: (r) => (plan = r.plan) });
      expect(outs.map((o) => o.width)).toEqual([100, 300, 200]);
      expect(plan!.steps.map((s) => [s.index, s.from])).toEqual([[1, "source"], [2, "source"], [0, "previous"]]);
    });
  });

  describe("metadata", () => {
    let input: Buffer;
    beforeAll(async () => {
      input = await sharp(picture(), { raw: { width: W, height: H, channels: 4 } }).removeAlpha().jpeg()
        .withExif({ IFD0: { Make: "TestCam", Copyright: "ACME Photo", Artist: "Jane Doe", Orientation: "6" } }).toBuffer();
    });
    const exifText = async (bytes: Uint8Array) => {
      const exif = (await sharp(bytes).metadata()).exif;
      return exif ? exif.toString("latin1") : undefined;
    };

    it.each(["jpeg", "webp"] as const)("keep carries EXIF into %s with orientation reset", async (format) => {
      const [out] = await render(input, [target({ width: 160, height: 240, format, metadata: "keep" })]);
      expect(await exifText(out.bytes)).toContain("TestCam");
      expect((await sharp(out.bytes).metadata()).orientation ?? 1).toBe(1);
    });

    it.each(["jpeg", "webp"] as const)("copyright keeps only Copyright and Artist in %s", async (format) => {
      const [out] = await render(input, [target({ width: 160, height: 240, format, metadata: "copyright" })]);
      const text = await exifText(out.bytes);
      expect(text).toContain("ACME Photo");
      expect(text).toContain("Jane Doe");
      expect(text).not.toContain("TestCam");
    });

    it.each([
      ["png", (s: Sharp) => s.png()],
      ["webp", (s: Sharp) => s.webp()],
      ["avif", (s: Sharp) => s.avif()],
    ] as const)("keep carries EXIF from a %s source", async (_, encode) => {
      const source = await encode(sharp(picture(), { raw: { width: W, height: H, channels: 4 } }).removeAlpha()
        .withExif({ IFD0: { Make: "TestCam", Copyright: "ACME Photo" } })).toBuffer();
      const [jpeg, webp] = await render(source, [
        target({ width: 120, height: 80, format: "jpeg", metadata: "keep" }),
        target({ width: 120, height: 80, format: "webp", metadata: "keep" }),
      ]);
      expect(await exifText(jpeg.bytes)).toContain("TestCam");
      expect(await exifText(webp.bytes)).toContain("TestCam");
    });

    it.each(["jpeg", "webp", "png", "avif"] as const)("none strips EXIF from %s", async (format) => {
      const [out] = await render(input, [target({ width: 160, height: 240, format, metadata: "none" })]);
      expect(await exifText(out.bytes)).toBeUndefined();
    });
  });

  describe("decoder choice", () => {
    // Made by patching a baseline JPEG's frame header; no encoder at hand writes these variants.
    it.each([
      ["arithmetic coding (SOF9)", (b: Uint8Array, sof: number): void => void (b[sof + 1] = 0xc9)],
      ["12-bit samples", (b: Uint8Array, sof: number): void => void (b[sof + 4] = 12)],
    ] as const)("a JPEG with %s, which no decoder here implements, is unsupported (not corrupt)", async (_, patch) => {
      const bytes = new Uint8Array(inputs.inputJpgBaseline);
      const sof = bytes.findIndex((v, i) => v === 0xff && bytes[i + 1] === 0xc0);
      patch(bytes, sof);
      const source: SourceInfo = { format: "jpeg", width: W, height: H, orientation: 1, hasAlpha: false };
      const e = await codecError(() => renderTargets(bytes, source, [target({ width: 240, height: 160, format: "png" })], { modules, maxPixels }));
      expect(e.kind, e.message).toBe("unsupported");
    });

    it("a JPEG our decoder takes is decoded at the smallest sufficient DCT scale", async () => {
      let plan: RenderReport["plan"] | undefined;
      await render(inputs.inputJpgBaseline, [target({ width: 100, height: 66, format: "webp" }), target({ width: 60, height: 40, format: "webp" })], { report: (r) => (plan = r.plan) });
      // 480×320 → 100×66 needs ≥ 100×66 decoded: 1/4 gives 120×80, 1/8 only 60×40.
      expect([plan!.decoder, plan!.scale]).toEqual(modules.jpeg ? ["jpeg-kernel", 4] : ["mozjpeg", 1]);
    });
  });

  describe("WebP encoder reuse between jobs is bounded", () => {
    /** Per-pixel noise: the worst case for libwebp's heap (it grows well past its initial 16 MiB at 1 MP). */
    async function noisePng(width: number, height: number): Promise<Buffer> {
      const px = Buffer.alloc(width * height * 3);
      let s = 12345;
      for (let i = 0; i < px.length; i++) {
        s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
        px[i] = s & 255;
      }
      return sharp(px, { raw: { width, height, channels: 3 } }).png({ compressionLevel: 1 }).toBuffer();
    }
    const thumbnail = () => render(inputs.inputJpgBaseline, [target({ width: 120, height: 80, format: "webp" })]);

    it("keeps the encoder of a small job, at its initial heap, for the next one", async () => {
      await thumbnail();
      const idle = idleWebpEncoderBytes(modules.webpEnc);
      expect(idle).toBeGreaterThan(0);
      expect(idle).toBeLessThanOrEqual(REUSABLE_ENCODER_HEAP_BYTES);
      const [again] = await render(inputs.inputJpgBaseline, [target({ width: 120, height: 80, format: "webp" })]);
      expect((await sharp(again.bytes).metadata()).format).toBe("webp"); // a reused instance encodes correctly
      expect(idleWebpEncoderBytes(modules.webpEnc)).toBe(idle);
    });

    it("drops the encoder a big image grew, so the next small job starts from a fresh heap", async () => {
      await thumbnail(); // an idle instance exists; the big job takes it and grows it
      const big = await noisePng(1024, 1024);
      let bigReport: RenderReport | undefined;
      await render(big, [target({ width: 1024, height: 1024, format: "webp" })], { report: (r) => (bigReport = r) });
      expect(bigReport!.maxWasmHeapBytes - 1024 * 1024 * 4).toBeGreaterThan(REUSABLE_ENCODER_HEAP_BYTES);
      expect(idleWebpEncoderBytes(modules.webpEnc)).toBe(0);

      let smallReport: RenderReport | undefined;
      await render(inputs.inputJpgBaseline, [target({ width: 120, height: 80, format: "webp" })], { report: (r) => (smallReport = r) });
      // The small job's encoder heap is the initial one, not the big job's high-water mark.
      // The small job's largest heap (decoder or encoder, + its RGBA copy) is an initial one, not the big job's
      // high-water mark (measured: 16.8 MB vs 33 MB).
      expect(smallReport!.maxWasmHeapBytes).toBeLessThan(REUSABLE_ENCODER_HEAP_BYTES + 2 * 1024 * 1024);
      expect(idleWebpEncoderBytes(modules.webpEnc)).toBeLessThanOrEqual(REUSABLE_ENCODER_HEAP_BYTES);
    });

    it("lets the idle encoder go before a job whose plan leaves no room for it under the budget", async () => {
      let report: RenderReport | undefined;
      await render(inputs.inputPng8, [target({ width: 240, height: 160, format: "png" })], { report: (r) => (report = r) });
      await thumbnail();
      expect(idleWebpEncoderBytes(modules.webpEnc)).toBeGreaterThan(0);
      const tight = report!.plan.peakBytes + REUSABLE_ENCODER_HEAP_BYTES - 1;
      await render(inputs.inputPng8, [target({ width: 240, height: 160, format: "png" })], { memoryBudgetBytes: tight });
      expect(idleWebpEncoderBytes(modules.webpEnc)).toBe(0);
    });
  });

  describe("limits", () => {
    it("refuses a render over the memory budget, naming the limit", async () => {
      const e = await codecError(() => render(inputs.inputPng8, [target({ width: 240, height: 160, format: "webp" })], { memoryBudgetBytes: 8 * 1024 * 1024 }));
      expect(e.kind).toBe("limit");
      expect(e.message).toMatch(/needs \d+ MB, over the 8 MB memory budget/);
      expect(e.message).toContain("memoryBudgetBytes");
    });

    it.each(["inputJpgBaseline", "inputJpgProgressive", "inputPngInterlaced", "inputWebpAlpha", "inputAvif", "inputGif"])(
      "the planner's estimate bounds the accounted peak (%s)",
      async (name) => {
        let report: RenderReport | undefined;
        await render(inputs[name], [
          target({ width: 400, height: 266, format: "webp" }),
          target({ width: 120, height: 80, format: "webp" }),
          target({ width: 400, height: 266, format: "jpeg" }),
          target({ width: 200, height: 133, format: "avif" }),
        ], { report: (r) => (report = r) });
        expect(report!.measuredPeakBytes).toBeGreaterThan(inputs[name].length);
        expect(report!.measuredPeakBytes).toBeLessThanOrEqual(report!.plan.peakBytes);
      },
    );

    it("refuses sources over maxPixels", async () => {
      const source = await probe(inputs.inputPng8);
      const e = await codecError(() => renderTargets(inputs.inputPng8, source, [target({ width: 10, height: 10, format: "png" })], { modules, maxPixels: 1000 }));
      expect(e.kind).toBe("limit");
      expect(e.message).toContain("maxPixels");
    });

    it(`refuses AVIF above ${AVIF_MAX_DIMENSION} px`, async () => {
      const e = await codecError(() => render(inputs.inputPng8, [target({ width: AVIF_MAX_DIMENSION + 1, height: 100, format: "avif" })]));
      expect(e.kind).toBe("limit");
      expect(e.message).toContain("AVIF_MAX_DIMENSION");
    });
  });

  describe("damaged input", () => {
    const samples = ["inputJpgBaseline", "inputJpgProgressive", "inputPng8", "inputPngInterlaced", "inputWebpLossy", "inputWebpLossless", "inputAvif", "inputGif"];
    const one = [target({ width: 60, height: 40, format: "png" })];

    it.each(samples)("truncated %s is corrupt", async (name) => {
      const input = inputs[name];
      const source = await probe(input);
      const e = await codecError(() => renderTargets(input.subarray(0, Math.floor(input.length * 0.6)), source, one, { modules, maxPixels }));
      expect(e.kind, e.message).toBe("corrupt");
    });

    // The EOI check reads the last two bytes first; bytes after EOI must still take the full marker walk.
    it.each(["inputJpgBaseline", "inputJpgProgressive"])("%s with bytes after its EOI still renders; cut before EOI it is corrupt", async (name) => {
      const input = inputs[name];
      const source = await probe(input);
      const trailing = Buffer.concat([input, Buffer.from("trailing bytes, e.g. a camera's appended data")]);
      const [out] = await renderTargets(trailing, source, one, { modules, maxPixels });
      expect([out.width, out.height]).toEqual([60, 40]);
      const cut = Buffer.concat([input.subarray(0, input.length - 2), Buffer.from([0xff, 0x00, 0x12])]);
      expect((await codecError(() => renderTargets(cut, source, one, { modules, maxPixels }))).kind).toBe("corrupt");
    });

    // Overwritten from byte 16 on: the signature survives, the headers and data do not. (Damage confined to
    // entropy-coded data is undetectable for VP8 and baseline JPEG and decodes to noise, as in every decoder.)
    it.each(samples)("%s with everything after its signature overwritten is corrupt", async (name) => {
      const input = Buffer.from(inputs[name]);
      const source = await probe(input);
      let seed = 7;
      const start = 16;
      for (let i = start; i < input.length; i++) input[i] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
      const e = await codecError(() => renderTargets(input, source, one, { modules, maxPixels }));
      expect(e.kind, e.message).toBe("corrupt");
    });

    it("random bytes are unsupported or corrupt, never another error", async () => {
      const formats: SourceInfo["format"][] = ["jpeg", "png", "webp", "avif", "gif"];
      const signatures = [[0xff, 0xd8, 0xff], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], [], [0x47, 0x49, 0x46, 0x38, 0x39, 0x61]];
      let seed = 1;
      for (let n = 0; n < 24; n++) {
        const bytes = new Uint8Array(64 + n * 97);
        for (let i = 0; i < bytes.length; i++) bytes[i] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
        bytes.set(signatures[n % signatures.length]);
        const source: SourceInfo = { format: formats[n % formats.length], width: 64, height: 48, orientation: 1, hasAlpha: false };
        const e = await codecError(() => renderTargets(bytes, source, one, { modules, maxPixels }));
        expect(["unsupported", "corrupt"]).toContain(e.kind);
      }
    });
  });
});

