// The streaming PNG decoder (codecs/png-stream.ts) against sharp, and a 100 MP PNG through the engine within
// the 96 MiB budget.
import sharp from "sharp";
import { Zlib } from "fflate";
import { beforeAll, describe, expect, it } from "vitest";
import { decodePngScaled, pngStreamWorkBytes, type PngLayout } from "../../wasm/src/codecs/png-stream.ts";
import { CodecError } from "../../wasm/src/errors.ts";
import { renderTargets, DEFAULT_MEMORY_BUDGET_BYTES, type EngineModules, type RenderReport, type RenderTarget } from "../../wasm/src/engine.ts";
import { loadEngineModules } from "../../wasm/src/modules.node.ts";
import { probeImage } from "../../wasm/src/probe.ts";
import type { Raster } from "../../wasm/src/raster.ts";
import { hostileCorpus, pngChunk, validCorpus } from "../fixtures/robustness-corpus.ts";
import { psnr } from "./measure.ts";

const corpus = await validCorpus();
const valid = corpus.filter((x) => x.format === "png");
const hostile = hostileCorpus(corpus).filter((x) => x.format === "png");
let modules: EngineModules;

beforeAll(async () => {
  modules = await loadEngineModules();
});

function layoutOf(bytes: Uint8Array): PngLayout {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: v.getUint32(16), height: v.getUint32(20), bitDepth: bytes[24], colorType: bytes[25], interlaced: bytes[28] === 1 };
}

/** RGB of a raster composed on white, as sharp's flatten does. */
function onWhite(r: Raster): Uint8Array {
  const n = r.width * r.height;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const a = r.channels === 4 ? r.data[i * 4 + 3] / 255 : 1;
    for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.round(r.data[i * r.channels + c] * a + 255 * (1 - a));
  }
  return out;
}

async function sharpOnWhite(bytes: Uint8Array, width?: number, height?: number): Promise<Buffer> {
  let s = sharp(bytes, { limitInputPixels: false }).flatten({ background: "#ffffff" });
  if (width) s = s.resize(width, height, { fit: "fill", kernel: "lanczos3" });
  return s.removeAlpha().toColourspace("srgb").raw({ depth: "uchar" }).toBuffer();
}

/** Where a box average and Lanczos3 legitimately differ more: a 1-bit dither is binary noise at every scale. */
const MIN_PSNR_DB: Record<string, number> = { pngGray1: 18 };

describe("streaming PNG decode: every colour type and bit depth, interlaced included, close to sharp", () => {
  it("the corpus has every colour type, the sub-byte depths, 16-bit and Adam7", () => {
    const layouts = valid.map((x) => layoutOf(x.bytes));
    for (const type of [0, 2, 3, 4, 6]) expect(layouts.some((l) => l.colorType === type), `colour type ${type}`).toBe(true);
    for (const depth of [1, 2, 4, 16]) expect(layouts.some((l) => l.bitDepth === depth), `${depth}-bit`).toBe(true);
    expect(layouts.some((l) => l.interlaced)).toBe(true);
  });

  for (const img of valid) {
    it(`${img.name}: 1/1 matches sharp's decode, 1/2 to 1/8 its resize`, async () => {
      const layout = layoutOf(img.bytes);
      const full = decodePngScaled(img.bytes, layout, 1, true).raster;
      expect([full.width, full.height]).toEqual([layout.width, layout.height]);
      // 16-bit samples: we keep the high byte, sharp rounds (v / 257): at most 1 apart.
      expect(psnr(onWhite(full), await sharpOnWhite(img.bytes)), `${img.name} 1/1`).toBeGreaterThan(48);
      for (const scale of [2, 4, 8]) {
        const { raster } = decodePngScaled(img.bytes, layout, scale, true);
        expect([raster.width, raster.height]).toEqual([Math.ceil(layout.width / scale), Math.ceil(layout.height / scale)]);
        if (raster.width < 4 || raster.height < 4) continue; // a few pixels: box and Lanczos legitimately differ
        // A box average against Lanczos3: as loose as the engine's own check against sharp (robustness.test.ts);
        // a wrong pass order, filter or palette lands far below.
        const ref = await sharpOnWhite(img.bytes, raster.width, raster.height);
        expect(psnr(onWhite(raster), ref), `${img.name} 1/${scale}`).toBeGreaterThan(MIN_PSNR_DB[img.name] ?? 22);
      }
    });
  }

  it("keeps alpha only when some pixel is not opaque", () => {
    const rgba = valid.find((x) => x.name === "pngRgba8")!;
    const opaque = valid.find((x) => x.name === "pngRgb8")!;
    expect(decodePngScaled(rgba.bytes, layoutOf(rgba.bytes), 2, true).raster.channels).toBe(4);
    expect(decodePngScaled(rgba.bytes, layoutOf(rgba.bytes), 2, false).raster.channels).toBe(3);
    expect(decodePngScaled(opaque.bytes, layoutOf(opaque.bytes), 2, true).raster.channels).toBe(3);
  });

  it("damaged streams end in a readable CodecError or a raster of the right size, never anything else", () => {
    const failures: string[] = [];
    for (const img of hostile) {
      if (img.bytes.length < 33) continue; // no IHDR: the engine refuses before this decoder
      const layout = layoutOf(img.bytes);
      if (layout.width * layout.height > 4e6) continue; // header bombs: the planner refuses them by size
      for (const scale of [1, 8]) {
        const started = performance.now();
        try {
          const { raster } = decodePngScaled(img.bytes, layout, scale, true);
          if (raster.width !== Math.ceil(layout.width / scale)) failures.push(`${img.name}: ${raster.width} wide`);
        } catch (e) {
          if (!(e instanceof CodecError) || /undefined|NaN/.test(e.message)) failures.push(`${img.name} 1/${scale}: ${String(e)}`);
        }
        if (performance.now() - started > 5000) failures.push(`${img.name} 1/${scale}: took ${performance.now() - started} ms`);
      }
    }
    expect(failures, failures.join("\n")).toEqual([]);
  });
});

/** Triangle wave 0..255..0 with period 1024: smooth, and rows repeat along x, so 100 MP deflate to 20–30 MB. */
const tri = (v: number) => {
  const t = v & 1023;
  return (t < 512 ? t : 1023 - t) >> 1;
};

/**
 * A `width × height` RGB(A) 8-bit PNG, Adam7-interlaced or not, written row by row through a streaming
 * deflate so that the raw 300–400 MB never exist at once.
 */
function largePng(width: number, height: number, alpha: boolean, interlaced: boolean): Uint8Array {
  const channels = alpha ? 4 : 3;
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, width);
  new DataView(ihdr.buffer).setUint32(4, height);
  ihdr.set([8, alpha ? 6 : 2, 0, 0, interlaced ? 1 : 0], 8);
  const idat: Uint8Array[] = [];
  const deflate = new Zlib({ level: 1 }, (chunk) => idat.push(pngChunk("IDAT", chunk)));
  const passes = interlaced ? [[0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2]] : [[0, 0, 1, 1]];
  for (const [x0, y0, dx, dy] of passes) {
    const passWidth = Math.ceil((width - x0) / dx);
    if (passWidth <= 0) continue;
    const line = new Uint8Array(1 + passWidth * channels);
    for (let y = y0; y < height; y += dy) {
      for (let i = 0; i < passWidth; i++) {
        const x = x0 + i * dx, p = 1 + i * channels;
        line[p] = tri(x);
        line[p + 1] = tri(y);
        line[p + 2] = tri(x + y);
        if (alpha) line[p + 3] = 255 - tri(x >> 1) / 2;
      }
      deflate.push(line);
    }
  }
  deflate.push(new Uint8Array(0), true);
  return new Uint8Array(Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), pngChunk("IHDR", ihdr), ...idat, pngChunk("IEND", [])]));
}

describe("a 100 MP PNG renders every eager variant within the 96 MiB budget", () => {
  it("a PNG whose full-size decode fits keeps the faster Rust decoder; one that does not, streams", async () => {
    const bytes = largePng(1200, 800, true, false);
    const plans: RenderReport["plan"][] = [];
    const target: RenderTarget = { width: 300, height: 200, format: "png", quality: 85, metadata: "none" };
    await renderTargets(bytes, probeImage(bytes), [target], { modules, maxPixels: 1e8 }, (r) => plans.push(r.plan));
    await renderTargets(bytes, probeImage(bytes), [target], { modules, maxPixels: 1e8, memoryBudgetBytes: 8 * 2 ** 20 }, (r) => plans.push(r.plan));
    expect(plans.map((p) => [p.decoder, p.scale])).toEqual([["png", 1], ["png-stream", 4]]);
  });

  // 12000×8333: the upload limit is 100 MP. The eager set: 1366×768 WebP and JPEG/PNG fallback, 320 px thumbnail.
  const [W, H] = [12000, 8333];
  const eager = (fallback: "jpeg" | "png"): RenderTarget[] => [
    { width: 1106, height: 768, format: "webp", quality: 85, metadata: "none" },
    { width: 320, height: 222, format: "webp", quality: 85, metadata: "none" },
    { width: 1106, height: 768, format: fallback, quality: 85, metadata: "none" },
  ];

  for (const { alpha, interlaced } of [{ alpha: true, interlaced: false }, { alpha: false, interlaced: true }]) {
    it(`${alpha ? "RGBA" : "RGB"} 8-bit${interlaced ? ", Adam7-interlaced" : ""}: measured peak under the budget and under the plan`, async () => {
      const bytes = largePng(W, H, alpha, interlaced);
      const header = probeImage(bytes);
      const targets = eager(alpha ? "png" : "jpeg");
      let report: RenderReport | undefined;
      const outputs = await renderTargets(bytes, header, targets, { modules, maxPixels: 100_000_000 }, (r) => (report = r));
      expect(report!.plan).toMatchObject({ decoder: "png-stream", scale: 8, decodedWidth: 1500, decodedHeight: 1042 });
      expect(report!.measuredPeakBytes).toBeLessThanOrEqual(DEFAULT_MEMORY_BUDGET_BYTES);
      // The planner's model for this decoder holds what it measured (and not wildly more).
      expect(report!.measuredPeakBytes).toBeLessThanOrEqual(report!.plan.peakBytes);
      expect(report!.plan.peakBytes).toBeLessThan(report!.measuredPeakBytes * 1.5);
      expect(pngStreamWorkBytes(layoutOf(bytes), 8)).toBeGreaterThan(0);
      for (let i = 0; i < targets.length; i++) {
        const ours = await sharp(outputs[i].bytes).flatten({ background: "#ffffff" }).removeAlpha().raw().toBuffer();
        const ref = await sharpOnWhite(bytes, targets[i].width, targets[i].height);
        expect(psnr(ours, ref), `output ${i}`).toBeGreaterThan(30);
      }
    });
  }
});
