// A large original handed to the engine as a stream (an R2 body) is held once: a 50 MB JPEG goes straight into
// our kernel's memory, other formats into a buffer the engine lets go after the decode. The plan says so, and the
// engine's measured account agrees.
import { beforeAll, describe, expect, it } from "vitest";
import sharp from "sharp";
import { DEFAULT_MEMORY_BUDGET_BYTES, CodecError, renderTargets, type EngineModules, type RenderReport, type RenderTarget, type SourceStream } from "../../wasm/src/engine.ts";
import { loadEngineModules } from "../../wasm/src/modules.node.ts";
import { probeImage } from "../../wasm/src/probe.ts";
import { inputSet, psnr } from "./fixtures.ts";

let modules: EngineModules;
const maxPixels = 100_000_000;

/** The bytes as R2 hands them out: a stream of 64 KiB chunks. */
function streamOf(bytes: Uint8Array, chunk = 64 * 1024): SourceStream {
  let at = 0;
  return {
    byteLength: bytes.length,
    stream: new ReadableStream<Uint8Array>({
      pull(controller) {
        if (at >= bytes.length) return controller.close();
        controller.enqueue(bytes.slice(at, at + chunk));
        at += chunk;
      },
    }),
  };
}

// The eager set of the default variants for a 5200×3500 photo.
const eager: RenderTarget[] = [
  { width: 1141, height: 768, format: "webp", quality: 85, metadata: "none" },
  { width: 320, height: 215, format: "webp", quality: 85, metadata: "none" },
  { width: 1141, height: 768, format: "jpeg", quality: 85, metadata: "none" },
];

beforeAll(async () => {
  modules = await loadEngineModules({ kernels: true });
  expect(modules.jpeg, "run npm run build:wasm first").toBeTruthy();
});

describe("a streamed original", () => {
  // 18 MP of noise at quality 100 without chroma subsampling: about 50 MB, as in the direct-to-R2 e2e test.
  let photo: Uint8Array;
  beforeAll(async () => {
    photo = await sharp({ create: { width: 5200, height: 3500, channels: 3, background: "#808080", noise: { type: "gaussian", mean: 128, sigma: 50 } } })
      .jpeg({ quality: 100, chromaSubsampling: "4:4:4" })
      .toBuffer();
    expect(photo.length).toBeGreaterThan(45 * 1024 * 1024);
  }, 60_000);

  it("a 50 MB JPEG held as bytes by the caller is over the budget: the caller's copy and the decoder's", async () => {
    const e = await renderTargets(photo, probeImage(photo), eager, { modules, maxPixels }).catch((error: unknown) => error);
    expect(e).toBeInstanceOf(CodecError);
    expect((e as CodecError).message).toMatch(/over the 96 MB memory budget/);
  });

  it("a 50 MB JPEG streamed in renders within the budget, measured, in our kernel's memory only", async () => {
    let report: RenderReport | undefined;
    const outputs = await renderTargets(streamOf(photo), probeImage(photo), eager, { modules, maxPixels }, (r) => (report = r));
    expect(report!.plan.decoder).toBe("jpeg-kernel");
    expect(report!.plan.peakBytes).toBeLessThanOrEqual(DEFAULT_MEMORY_BUDGET_BYTES);
    expect(report!.measuredPeakBytes).toBeLessThanOrEqual(report!.plan.peakBytes);
    // The file is in the account once (inside the kernel's heap), not twice.
    expect(report!.measuredPeakBytes).toBeGreaterThan(photo.length);
    expect(report!.measuredPeakBytes).toBeLessThan(2 * photo.length);
    expect(outputs.map((o) => [o.width, o.height, o.format])).toEqual(eager.map((t) => [t.width, t.height, t.format]));
  });

  it.each(["inputJpgProgressive", "inputPngInterlaced", "inputWebpLossy", "inputAvif", "inputGif"])(
    "%s streamed in renders what the same bytes render, and the plan bounds the measured peak",
    async (name) => {
      const bytes = (await inputSet())[name];
      const source = probeImage(bytes);
      const targets: RenderTarget[] = [{ width: 120, height: 80, format: "png", quality: 85, metadata: "none" }];
      let report: RenderReport | undefined;
      const [streamed] = await renderTargets(streamOf(bytes, 4096), source, targets, { modules, maxPixels }, (r) => (report = r));
      const [direct] = await renderTargets(bytes, source, targets, { modules, maxPixels });
      const raw = (b: Uint8Array) => sharp(b).removeAlpha().raw().toBuffer();
      expect(psnr(await raw(streamed.bytes), await raw(direct.bytes))).toBeGreaterThan(60);
      expect(report!.measuredPeakBytes).toBeLessThanOrEqual(report!.plan.peakBytes);
    },
  );

  it("refuses a stream shorter or longer than its declared length as a corrupt original", async () => {
    const bytes = (await inputSet()).inputJpgBaseline;
    const source = probeImage(bytes);
    const targets: RenderTarget[] = [{ width: 60, height: 40, format: "png", quality: 85, metadata: "none" }];
    const short = { ...streamOf(bytes.subarray(0, bytes.length - 10)), byteLength: bytes.length };
    await expect(renderTargets(short, source, targets, { modules, maxPixels })).rejects.toThrow(/truncated: \d+ of \d+ bytes/);
    const long = { ...streamOf(bytes), byteLength: bytes.length - 10 };
    await expect(renderTargets(long, source, targets, { modules, maxPixels })).rejects.toThrow(/longer than its \d+ bytes/);
  });
});
