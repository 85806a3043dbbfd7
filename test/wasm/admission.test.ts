// Admission plans an upload's eager set from its header alone, with the planner's memory model: what cannot fit
// the budget is refused at upload, what fits is accepted and then renders within it.
import { beforeAll, describe, expect, it } from "vitest";
import { admitRender } from "../../wasm/src/admission.ts";
import { DEFAULT_MEMORY_BUDGET_BYTES, renderTargets, type RenderReport, type RenderTarget } from "../../wasm/src/engine.ts";
import { loadEngineModules } from "../../wasm/src/modules.node.ts";
import { probeImage } from "../../wasm/src/probe.ts";
import { inputSet } from "./fixtures.ts";

let inputs: Record<string, Buffer>;
beforeAll(async () => {
  inputs = await inputSet();
});

/** A copy of `bytes` whose 4-byte box of type `type` (ISO-BMFF, e.g. AVIF's `ispe`) declares `width × height`. */
function withIspe(bytes: Uint8Array, width: number, height: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  const at = Buffer.from(out).indexOf("ispe");
  expect(at).toBeGreaterThan(0);
  const v = new DataView(out.buffer);
  v.setUint32(at + 8, width); // after the type and the version/flags word
  v.setUint32(at + 12, height);
  return out;
}

/** A WebP's header alone (RIFF, VP8X with its canvas size, then a VP8L chunk header), as the first bytes of an upload. */
function webpHeader(width: number, height: number): Uint8Array {
  const out = new Uint8Array(30 + 8 + 5);
  const v = new DataView(out.buffer);
  out.set(Buffer.from("RIFF"), 0);
  v.setUint32(4, 1_000_000, true);
  out.set(Buffer.from("WEBPVP8X"), 8);
  v.setUint32(16, 10, true);
  const w = width - 1, h = height - 1;
  out.set([w & 255, (w >> 8) & 255, w >> 16, h & 255, (h >> 8) & 255, h >> 16], 24);
  out.set(Buffer.from("VP8L"), 30);
  v.setUint32(34, 1_000_000, true);
  out[38] = 0x2f;
  v.setUint32(39, ((width - 1) & 0x3fff) | (((height - 1) & 0x3fff) << 14), true);
  return out;
}

/** A PNG's signature and IHDR, as the first bytes of an upload. */
function pngHeader(width: number, height: number, colorType: 2 | 6): Uint8Array {
  const out = new Uint8Array(8 + 25);
  out.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 0);
  const v = new DataView(out.buffer);
  v.setUint32(8, 13);
  out.set(Buffer.from("IHDR"), 12);
  v.setUint32(16, width);
  v.setUint32(20, height);
  out.set([8, colorType, 0, 0, 0], 24);
  return out;
}

const eager = (w: number, h: number, fallback: "jpeg" | "png"): RenderTarget[] => [
  { width: w, height: h, format: "webp", quality: 85, metadata: "none" },
  { width: w, height: h, format: fallback, quality: 85, metadata: "none" },
  { width: 320, height: Math.round((320 * h) / w), format: "webp", quality: 85, metadata: "none" },
];

describe("admission from the header", () => {
  it("accepts the 24 MP panorama as a lossless WebP (11158×2156): libwebp's full-size decode does not fit, ours streams", () => {
    const header = webpHeader(11158, 2156);
    const probed = probeImage(header);
    expect([probed.width, probed.height]).toEqual([11158, 2156]);
    const admission = admitRender(header, probed, 20 * 1024 * 1024, eager(1366, 264, "png"), DEFAULT_MEMORY_BUDGET_BYTES);
    expect(admission.fits).toBe(true);
    expect(admission.plan).toMatchObject({ decoder: "vp8l-stream", scale: 8 });
  });

  it("refuses a 16383×16383 lossless WebP: at their finest, its transform images alone are over the budget", () => {
    const header = webpHeader(16383, 16383);
    const admission = admitRender(header, probeImage(header), 20 * 1024 * 1024, eager(768, 768, "png"), DEFAULT_MEMORY_BUDGET_BYTES);
    expect(admission.fits).toBe(false);
    expect(admission.plan.decoder).toBe("vp8l-stream");
  });

  it("refuses a 100 MP AVIF", () => {
    const header = withIspe(inputs.inputAvif, 12000, 8333);
    const probed = probeImage(header);
    expect([probed.width, probed.height]).toEqual([12000, 8333]);
    const admission = admitRender(header, probed, 30 * 1024 * 1024, eager(1106, 768, "jpeg"), DEFAULT_MEMORY_BUDGET_BYTES);
    expect(admission.fits).toBe(false);
  });

  it("accepts a 100 MP PNG, which streams, and plans the decoder the engine then uses", () => {
    const header = pngHeader(12000, 8333, 6);
    const admission = admitRender(header, probeImage(header), 40 * 1024 * 1024, eager(1106, 768, "png"), DEFAULT_MEMORY_BUDGET_BYTES);
    expect(admission.fits).toBe(true);
    expect(admission.plan).toMatchObject({ decoder: "png-stream", scale: 8 });
  });

  it("refuses a file larger than the budget by itself, whatever its pixels", () => {
    const header = pngHeader(100, 100, 2);
    expect(admitRender(header, probeImage(header), 200 * 1024 * 1024, eager(100, 100, "jpeg"), DEFAULT_MEMORY_BUDGET_BYTES).fits).toBe(false);
  });

  it.each(["inputJpgBaseline", "inputJpgProgressive", "inputPngInterlaced", "inputWebpAlpha", "inputAvif", "inputGif"])(
    "%s: the plan from its first 64 KiB is the plan the engine renders with",
    async (name) => {
      const bytes = inputs[name];
      const header = probeImage(bytes);
      const targets = eager(400, 266, header.hasAlpha ? "png" : "jpeg");
      const admitted = admitRender(bytes.subarray(0, 64 * 1024), header, bytes.length, targets, DEFAULT_MEMORY_BUDGET_BYTES);
      const modules = await loadEngineModules({ kernels: true });
      let report: RenderReport | undefined;
      const stream = new Blob([Uint8Array.from(bytes)]).stream() as ReadableStream<Uint8Array>;
      await renderTargets({ byteLength: bytes.length, stream }, header, targets, { modules, maxPixels: 100_000_000 }, (r) => (report = r));
      expect(admitted.fits).toBe(true);
      expect(admitted.plan.decoder).toBe(report!.plan.decoder);
      expect(admitted.plan.peakBytes).toBe(report!.plan.peakBytes);
    },
  );
});
