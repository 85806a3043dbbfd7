// Large lossy WebP within the budget: our libwebp build (formats/webp-scaled.ts) decodes straight to the plan's
// scale, so the 24 MP panorama and a 50 MP photo render every eager variant inside the 96 MiB of a 128 MB
// isolate, measured; lossless and what cannot fit still go where they did.
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { admitRender } from "../../wasm/src/admission.ts";
import { DEFAULT_MEMORY_BUDGET_BYTES, renderTargets, type EngineModules, type RenderReport, type RenderTarget } from "../../wasm/src/engine.ts";
import { loadEngineModules } from "../../wasm/src/modules.node.ts";
import { probeImage } from "../../wasm/src/probe.ts";
import { instantiateWebpScaled } from "../../wasm/src/codecs/webp-scaled.ts";
import { alphaCoding } from "../../wasm/src/formats/webp-scaled.ts";
import { CodecError } from "../../wasm/src/errors.ts";
import { psnr } from "./measure.ts";

let modules: EngineModules;
beforeAll(async () => {
  modules = await loadEngineModules();
});

/**
 * A photo-like texture (gradients, ripples, a checker, hard-edged blocks) with per-pixel grain, so a lossy WebP
 * of it is not trivially small; `alpha` fades the right quarter out. Its structures are a few output pixels
 * wide even at 1/8, as a photo's are: content at the outputs' Nyquist rate would measure the re-encoding of
 * the outputs (WebP/JPEG at 85, 4:2:0), not the decode.
 */
function texture(width: number, height: number, alpha = false): Buffer {
  const c = alpha ? 4 : 3;
  const px = Buffer.alloc(width * height * c);
  let seed = 12345;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const grain = ((seed >>> 16) & 31) - 16;
      const i = (y * width + x) * c;
      const block = ((x >> 9) + (y >> 9)) % 3 === 0 ? 60 : 0;
      px[i] = 40 + (150 * x) / width + 30 * Math.sin(x / 97) * Math.cos(y / 113) + grain + block;
      px[i + 1] = 60 + (130 * y) / height + 25 * Math.sin((x + y) / 131) + grain;
      px[i + 2] = 190 - (110 * x * y) / (width * height) + (((x >> 8) + (y >> 8)) & 1 ? 20 : -20) + grain - block;
      if (alpha) px[i + 3] = x > (width * 3) / 4 ? Math.max(0, 255 - ((x - (width * 3) / 4) * 1020) / width) : 255;
    }
  }
  return px;
}

const generated = new Map<string, Promise<Uint8Array>>();

/** A lossy WebP (quality 80, by default sharp's lowest effort) of the texture, generated once per size in this file. */
function lossyWebp(width: number, height: number, alpha = false, effort = 0): Promise<Uint8Array> {
  const key = `${width}x${height}${alpha ? "a" : ""}e${effort}`;
  const raw = { width, height, channels: (alpha ? 4 : 3) as 3 | 4 };
  if (!generated.has(key)) {
    generated.set(key, sharp(texture(width, height, alpha), { raw, limitInputPixels: false }).webp({ quality: 80, effort }).toBuffer().then((b) => new Uint8Array(b)));
  }
  return generated.get(key)!;
}

/** The eager set of the seeded `public` variant (scale-down into 1366×768) in WebP and JPEG, and a 320 px thumbnail. */
function eager(width: number, height: number, fallback: "jpeg" | "png" = "jpeg"): RenderTarget[] {
  const s = Math.min(1, 1366 / width, 768 / height);
  const [w, h] = [Math.round(width * s), Math.round(height * s)];
  return [
    { width: w, height: h, format: "webp", quality: 85, metadata: "none" },
    { width: w, height: h, format: fallback, quality: 85, metadata: "none" },
    { width: 320, height: Math.round((320 * height) / width), format: "webp", quality: 85, metadata: "none" },
  ];
}

/** Renders as the processor does (the original streamed in) and returns the outputs and the engine's report. */
async function render(bytes: Uint8Array, targets: RenderTarget[]) {
  let report: RenderReport | undefined;
  const stream = new Blob([Uint8Array.from(bytes)]).stream() as ReadableStream<Uint8Array>;
  const outputs = await renderTargets({ byteLength: bytes.length, stream }, probeImage(bytes), targets, { modules, maxPixels: 100_000_000 }, (r) => (report = r));
  return { outputs, report: report! };
}

async function onWhite(bytes: Uint8Array, width?: number, height?: number): Promise<Buffer> {
  let s = sharp(bytes, { limitInputPixels: false }).flatten({ background: "#ffffff" });
  if (width) s = s.resize(width, height, { fit: "fill", kernel: "lanczos3" });
  return s.removeAlpha().raw().toBuffer();
}

/** Each output against sharp's Lanczos3 resize of the same WebP (libwebp's own decode), flattened on white. */
async function expectLikeSharp(bytes: Uint8Array, targets: RenderTarget[], outputs: Array<{ bytes: Uint8Array }>, minDb: number) {
  for (let i = 0; i < targets.length; i++) {
    const db = psnr(await onWhite(outputs[i].bytes), await onWhite(bytes, targets[i].width, targets[i].height));
    expect(db, `${targets[i].format} ${targets[i].width}×${targets[i].height}`).toBeGreaterThan(minDb);
  }
}

const MiB = 1024 * 1024;

// The outputs are re-encoded lossy (WebP/JPEG at 85) and resized by a different kernel cascade (libwebp's
// area-averaging rescaler, then our Lanczos3), against sharp's single Lanczos3: 30 dB is "the same picture".
const MIN_PSNR_DB = 30;

describe("large lossy WebP renders every eager variant within the 96 MiB budget, measured", () => {
  const cases = [
    { name: "the 24 MP panorama (11158×2156): decoded at 1/8 by the scaled decoder", width: 11158, height: 2156, minMiB: 2, scale: 8, decoded: [1395, 270], timeout: 120_000 },
    { name: "a 50 MP photo (10000×5000): decoded at 1/4", width: 10000, height: 5000, minMiB: 5, scale: 4, decoded: [2500, 1250], timeout: 180_000 },
  ];
  for (const { name, width, height, minMiB, scale, decoded, timeout } of cases) {
    it(`${name}, close to sharp`, async () => {
      const bytes = await lossyWebp(width, height);
      expect(bytes.length).toBeGreaterThan(minMiB * MiB);
      const targets = eager(width, height);
      const { outputs, report } = await render(bytes, targets);
      expect(report.plan).toMatchObject({ decoder: "webp-scaled", scale, decodedWidth: decoded[0], decodedHeight: decoded[1] });
      expect(report.measuredPeakBytes).toBeLessThanOrEqual(DEFAULT_MEMORY_BUDGET_BYTES);
      expect(report.measuredPeakBytes).toBeLessThanOrEqual(report.plan.peakBytes);
      await expectLikeSharp(bytes, targets, outputs, MIN_PSNR_DB);
    }, timeout);
  }
});

describe("the scaled decoder", () => {
  // libwebp's encoder (sharp's) codes this alpha ramp behind a colour-indexing transform at effort 0 (decoded at
  // 1 B/px), and without one from effort 2 (decoded through 32-bit ARGB): the model plans each, the measured peak holds.
  it.each([["palette", 0], ["lossless", 4]] as const)("keeps alpha (VP8X + ALPH, %s-coded): RGBA out, close to sharp on white, within its plan", async (coding, effort) => {
    const bytes = await lossyWebp(2400, 1600, true, effort);
    expect(probeImage(bytes).hasAlpha).toBe(true);
    const alph = Buffer.from(bytes).indexOf("ALPH");
    expect(alphaCoding(bytes.subarray(alph + 8))).toBe(coding);
    const targets = eager(2400, 1600, "png");
    const { outputs, report } = await render(bytes, targets);
    expect(report.plan).toMatchObject({ decoder: "webp-scaled", scale: 2, decodedWidth: 1200, decodedHeight: 800 });
    expect(report.measuredPeakBytes).toBeLessThanOrEqual(report.plan.peakBytes);
    expect((await sharp(outputs[1].bytes).metadata()).channels).toBe(4);
    await expectLikeSharp(bytes, targets, outputs, MIN_PSNR_DB);
  }, 60_000);

  it("stops with a limit error, not an isolate out of memory, where libwebp would outgrow the planned heap", async () => {
    const bytes = await lossyWebp(2400, 1600, true, 4);
    const decoder = instantiateWebpScaled(modules.webpScaled);
    expect(() => decoder.decode({ input: bytes, width: 1200, height: 800, channels: 4, heapLimitBytes: 16 * MiB }))
      .toThrow(expect.objectContaining({ kind: "limit", message: expect.stringMatching(/more than the 16 MB of memory planned/) }));
    // The same decode with room for its 32-bit alpha path succeeds.
    const roomy = instantiateWebpScaled(modules.webpScaled).decode({ input: bytes, width: 1200, height: 800, channels: 4, heapLimitBytes: 40 * MiB });
    expect(roomy.length).toBe(1200 * 800 * 4);
  });

  it("carries the EXIF of a file streamed into its memory (read before the decode grows it) and applies its orientation", async () => {
    const raw = { width: 1600, height: 1200, channels: 3 as const };
    const bytes = new Uint8Array(await sharp(texture(1600, 1200), { raw }).withMetadata({ orientation: 6 }).webp({ quality: 80, effort: 0 }).toBuffer());
    expect(probeImage(bytes).orientation).toBe(6);
    const targets: RenderTarget[] = [{ width: 600, height: 800, format: "jpeg", quality: 85, metadata: "keep" }];
    const { outputs, report } = await render(bytes, targets);
    expect(report.plan).toMatchObject({ decoder: "webp-scaled", scale: 2, decodedWidth: 800, decodedHeight: 600 });
    const meta = await sharp(outputs[0].bytes).metadata();
    expect([meta.width, meta.height]).toEqual([600, 800]);
    expect(meta.exif?.length).toBeGreaterThan(0);
    const upright = await sharp(bytes).rotate().resize(600, 800, { fit: "fill", kernel: "lanczos3" }).removeAlpha().raw().toBuffer();
    expect(psnr(await onWhite(outputs[0].bytes), upright)).toBeGreaterThan(MIN_PSNR_DB);
  });

  it("at full size matches libwebp's own decode (sharp's)", async () => {
    const bytes = await lossyWebp(640, 480);
    const decoded = instantiateWebpScaled(modules.webpScaled).decode({ input: bytes, width: 640, height: 480, channels: 3 });
    expect(psnr(decoded, await onWhite(bytes))).toBeGreaterThan(45);
  });

  it("a truncated stream is a corrupt CodecError from libwebp, never a trap", async () => {
    const truncated = (await lossyWebp(640, 480)).subarray(0, 3000);
    await expect(render(truncated, eager(640, 480))).rejects.toThrow(CodecError);
    await expect(render(truncated, eager(640, 480))).rejects.toMatchObject({ kind: "corrupt", message: expect.stringMatching(/libwebp.*not enough data/) });
  });

  it("lossless WebP still goes to jSquash's decoder, and renders", async () => {
    const raw = { width: 800, height: 600, channels: 3 as const };
    const bytes = new Uint8Array(await sharp(texture(800, 600), { raw }).webp({ lossless: true, effort: 0 }).toBuffer());
    const { outputs, report } = await render(bytes, eager(800, 600));
    expect(report.plan.decoder).toBe("webp");
    expect(outputs).toHaveLength(3);
  });
});

/** A lossy still's first bytes: RIFF, VP8X (alpha flag) with its canvas, an ALPH chunk whose payload starts `alph`, then VP8's frame header. */
function lossyHeader(width: number, height: number, alph: number[]): Uint8Array {
  const out = new Uint8Array(30 + 8 + alph.length + 8 + 10);
  const v = new DataView(out.buffer);
  out.set(Buffer.from("RIFF"), 0);
  v.setUint32(4, 10_000_000, true);
  out.set(Buffer.from("WEBPVP8X"), 8);
  v.setUint32(16, 10, true);
  out[20] = 0x10;
  const w = width - 1, h = height - 1;
  out.set([w & 255, (w >> 8) & 255, w >> 16, h & 255, (h >> 8) & 255, h >> 16], 24);
  out.set(Buffer.from("ALPH"), 30);
  v.setUint32(34, alph.length, true);
  out.set(alph, 38);
  const vp8 = 38 + alph.length;
  out.set(Buffer.from("VP8 "), vp8);
  v.setUint32(vp8 + 4, 5_000_000, true);
  out.set([0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a], vp8 + 8);
  v.setUint16(vp8 + 14, width, true);
  v.setUint16(vp8 + 16, height, true);
  return out;
}

describe("admission of large WebP from the header", () => {
  const admit = (bytes: Uint8Array, fallback: "jpeg" | "png" = "jpeg") => {
    const header = probeImage(bytes);
    return admitRender(bytes.subarray(0, 64 * 1024), header, bytes.length, eager(header.width, header.height, fallback), DEFAULT_MEMORY_BUDGET_BYTES);
  };

  it("accepts the lossy panorama and 50 MP photo with the decoder the engine then uses", async () => {
    for (const [w, h] of [[11158, 2156], [10000, 5000]]) {
      const bytes = await lossyWebp(w, h);
      const admitted = admit(bytes);
      expect(admitted.fits, `${w}×${h}`).toBe(true);
      const { report } = await render(bytes, eager(w, h));
      expect(admitted.plan.decoder).toBe(report.plan.decoder);
      expect(admitted.plan.peakBytes).toBe(report.plan.peakBytes);
    }
  }, 240_000);

  it("refuses what still cannot fit: a 50 MP lossy still whose alpha decodes through 32-bit ARGB", () => {
    const header = lossyHeader(10000, 5000, [0x01, 0x46]);
    const probed = probeImage(header);
    expect([probed.width, probed.height, probed.hasAlpha]).toEqual([10000, 5000, true]);
    const admission = admitRender(header, probed, 12 * MiB, eager(10000, 5000, "png"), DEFAULT_MEMORY_BUDGET_BYTES);
    expect(admission.fits).toBe(false);
    expect(admission.plan.decoder).toBe("webp-scaled");
    expect(admission.peak.phase).toMatch(/^decode \(webp-scaled at 1\/4/);
  });

  it("accepts the 24 MP panorama with a palette-coded alpha (1 B/px), which the 32-bit path would not fit", () => {
    const palette = lossyHeader(11158, 2156, [0x01, 0xf7]);
    const lossless = lossyHeader(11158, 2156, [0x01, 0x46]);
    const plan = (h: Uint8Array) => admitRender(h, probeImage(h), 6 * MiB, eager(11158, 2156, "png"), DEFAULT_MEMORY_BUDGET_BYTES);
    expect(plan(palette).fits).toBe(true);
    expect(plan(lossless).fits).toBe(false);
  });
});
