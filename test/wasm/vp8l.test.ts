// The streaming WebP lossless decoder (codecs/vp8l-stream.ts) against sharp's decode of the same files, pixel for
// pixel; damaged streams; and a 50 MP lossless WebP through the engine within the 96 MiB budget.
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { admitRender } from "../../wasm/src/admission.ts";
import { decodeVp8lScaled, describeVp8l, readVp8lHeader, vp8lNeeds, vp8lStreamWorkBytes, type ScaledVp8l } from "../../wasm/src/codecs/vp8l-stream.ts";
import { CodecError } from "../../wasm/src/errors.ts";
import { renderTargets, DEFAULT_MEMORY_BUDGET_BYTES, type EngineModules, type RenderReport, type RenderTarget } from "../../wasm/src/engine.ts";
import { loadEngineModules } from "../../wasm/src/modules.node.ts";
import { probeImage } from "../../wasm/src/probe.ts";
import { picture } from "./fixtures.ts";
import { psnr } from "./measure.ts";

/** Deterministic byte noise (xorshift). */
function noise(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s & 255;
  };
}

interface Fixture {
  name: string;
  webp: Buffer;
  width: number;
  height: number;
}

/** The VP8L chunk's body: the bitstream our decoder takes. */
function bitstreamOf(webp: Uint8Array): Uint8Array {
  for (let p = 12; p + 8 <= webp.length;) {
    const type = String.fromCharCode(...webp.subarray(p, p + 4));
    const size = (webp[p + 4] | (webp[p + 5] << 8) | (webp[p + 6] << 16) | (webp[p + 7] << 24)) >>> 0;
    if (type === "VP8L") return webp.subarray(p + 8, p + 8 + size);
    p += 8 + size + (size & 1);
  }
  throw new Error("no VP8L chunk");
}

/** Raw RGBA or RGB pixels → a lossless WebP (near_lossless off, sharp's default) at `effort`. */
async function lossless(raw: Buffer, width: number, height: number, channels: 3 | 4, effort: number): Promise<Buffer> {
  return sharp(raw, { raw: { width, height, channels }, limitInputPixels: false }).webp({ lossless: true, effort }).toBuffer();
}

/** `width × height` RGB where each pixel is one of `colours` palette entries, in a hatched pattern (which libwebp indexes). */
function paletteImage(width: number, height: number, colours: number): Buffer {
  const px = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const k = ((x * 7 + y * 13) ^ (x >> 3)) % colours;
      px.set([(k * 37) & 255, (k * 91 + 20) & 255, (k * 53 + 200) & 255], (y * width + x) * 3);
    }
  }
  return px;
}

/** Per-pixel noise in every channel: nothing repeats, so no backward references. */
function noiseImage(width: number, height: number, channels: 3 | 4): Buffer {
  const next = noise(width * 7 + height);
  return Buffer.from(Array.from({ length: width * height * channels }, next));
}

/**
 * Noise whose rows repeat every `period` rows: the only redundancy is `period × width` pixels back, so the
 * encoder must reach that far (at 500 × 2000, close to VP8L's farthest distance), and at 1100 rows the decoder's
 * ring of rows wraps around.
 */
function repeatedRows(width: number, height: number, period: number): Buffer {
  const block = noiseImage(width, period, 3);
  const px = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) block.copy(px, y * width * 3, (y % period) * width * 3, (y % period + 1) * width * 3);
  return px;
}

const fixtures: Fixture[] = [];
const add = async (name: string, raw: Buffer, width: number, height: number, channels: 3 | 4, effort: number) =>
  fixtures.push({ name, webp: await lossless(raw, width, height, channels, effort), width, height });

beforeAll(async () => {
  for (const effort of [0, 4, 6]) {
    await add(`photo, odd size, effort ${effort}`, picture(301, 203), 301, 203, 4, effort);
    await add(`photo with alpha, effort ${effort}`, picture(257, 129, true), 257, 129, 4, effort);
  }
  for (const colours of [2, 4, 16, 200]) await add(`${colours}-colour palette, odd width`, paletteImage(203, 37, colours), 203, 37, 3, 4);
  await add("noise RGBA", noiseImage(97, 61, 4), 97, 61, 4, 4);
  await add("noise RGB, effort 0", noiseImage(97, 61, 3), 97, 61, 3, 0);
  await add("one pixel", picture(1, 1, true), 1, 1, 4, 4);
  await add("one column", picture(1, 97), 1, 97, 4, 4);
  await add("one row", picture(97, 1), 97, 1, 4, 4);
  await add("rows repeating 1 M pixels back", repeatedRows(2000, 1100, 500), 2000, 1100, 3, 4);
}, 120_000);

/** sharp's (libwebp's) decode as RGBA. */
const reference = (f: Fixture) => sharp(f.webp).ensureAlpha().raw().toBuffer();

/** Our decode at 1/`scale` as RGBA, whether it kept alpha or not. */
function rgbaOf({ raster }: ScaledVp8l): Uint8Array {
  if (raster.channels === 4) return raster.data;
  const n = raster.width * raster.height, out = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) out.set([raster.data[i * 3], raster.data[i * 3 + 1], raster.data[i * 3 + 2], 255], i * 4);
  return out;
}

/** The first pixel where two RGBA buffers differ, for a readable failure. */
function firstDifference(a: Uint8Array, b: Uint8Array, width: number): string | undefined {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return `pixel (${(i >> 2) % width}, ${Math.floor((i >> 2) / width)}) channel ${i & 3}: ${a[i]} vs ${b[i]}`;
  return a.length === b.length ? undefined : `${a.length} vs ${b.length} bytes`;
}

/** Box average of an RGBA buffer, colour weighted by alpha: what the row sink promises, computed the plain way. */
function boxAverage(rgba: Uint8Array, width: number, height: number, scale: number): Uint8Array {
  const rw = Math.ceil(width / scale), rh = Math.ceil(height / scale), out = new Uint8Array(rw * rh * 4);
  for (let ry = 0; ry < rh; ry++) {
    for (let rx = 0; rx < rw; rx++) {
      let r = 0, g = 0, b = 0, a = 0, n = 0;
      for (let y = ry * scale; y < Math.min(height, (ry + 1) * scale); y++) {
        for (let x = rx * scale; x < Math.min(width, (rx + 1) * scale); x++) {
          const i = (y * width + x) * 4, alpha = rgba[i + 3];
          r += rgba[i] * alpha; g += rgba[i + 1] * alpha; b += rgba[i + 2] * alpha; a += alpha; n++;
        }
      }
      const o = (ry * rw + rx) * 4;
      if (a > 0) out.set([Math.round(r / a), Math.round(g / a), Math.round(b / a), Math.round(a / n)], o);
    }
  }
  return out;
}

describe("VP8L decode matches libwebp (sharp) pixel for pixel", () => {
  it("the fixtures use every transform, every palette bundling, the colour cache, several prefix-code groups and backward references", () => {
    const structures = fixtures.map((f) => describeVp8l(bitstreamOf(f.webp)));
    const kinds = new Set(structures.flatMap((s) => s.transforms.map((t) => t.kind)));
    expect([...kinds].sort()).toEqual(["colour", "colour-indexing", "predictor", "subtract-green"]);
    const bundles = new Set(structures.flatMap((s) => s.transforms.filter((t) => t.kind === "colour-indexing").map((t) => t.bits)));
    expect([...bundles].sort()).toEqual([0, 1, 2, 3]);
    // Modes 0, 4 and 8 libwebp seldom writes: hand-made streams cover them below.
    const modes = new Set(structures.flatMap((s) => s.predictorModes));
    for (const mode of [1, 2, 3, 5, 6, 7, 9, 10, 11, 12, 13]) expect(modes.has(mode), `predictor mode ${mode}`).toBe(true);
    expect(structures.some((s) => s.colourCacheBits > 0)).toBe(true);
    expect(structures.some((s) => s.prefixGroups > 1)).toBe(true);
  });

  it("every fixture decodes at full size exactly as sharp decodes it", async () => {
    const failures: string[] = [];
    for (const f of fixtures) {
      const ours = decodeVp8lScaled(bitstreamOf(f.webp), 1, true);
      expect([ours.raster.width, ours.raster.height], f.name).toEqual([f.width, f.height]);
      const diff = firstDifference(rgbaOf(ours), await reference(f), f.width);
      if (diff) failures.push(`${f.name}: ${diff}`);
    }
    expect(failures, failures.join("\n")).toEqual([]);
  });

  it("noise has no backward references; rows repeating 1 M pixels back are copied from that far, across the ring's wrap", () => {
    const noisy = decodeVp8lScaled(bitstreamOf(fixtures.find((f) => f.name === "noise RGBA")!.webp), 1, true);
    expect(noisy.references.count).toBe(0);
    const repeated = fixtures.find((f) => f.name.startsWith("rows repeating"))!;
    const bitstream = bitstreamOf(repeated.webp);
    const far = decodeVp8lScaled(bitstream, 1, false);
    expect(far.references.farthest).toBe(500 * 2000);
    // Noise costs ~3 bytes a pixel; the repeats cost almost nothing, so the file is about the first 500 rows.
    expect(bitstream.length).toBeLessThan(500 * 2000 * 3 * 1.1);
    // The ring holds the farthest reach plus a row (526 rows of 2000), less than the image's 1100 rows.
    expect(far.workBytes).toBeLessThan(1100 * 2000 * 4);
  });

  it("at 1/2, 1/4 and 1/8 it is the alpha-weighted box average of the full decode", async () => {
    for (const f of fixtures.filter((x) => /alpha|odd|noise RGBA/.test(x.name))) {
      const full = await reference(f);
      for (const scale of [2, 4, 8]) {
        const ours = decodeVp8lScaled(bitstreamOf(f.webp), scale, true);
        expect([ours.raster.width, ours.raster.height]).toEqual([Math.ceil(f.width / scale), Math.ceil(f.height / scale)]);
        const diff = firstDifference(rgbaOf(ours), boxAverage(full, f.width, f.height, scale), ours.raster.width);
        expect(diff, `${f.name} 1/${scale}`).toBeUndefined();
      }
    }
  });

  it("the planner's model from the stream's structure holds each decode's work; from the header alone it is the worst case", () => {
    for (const f of fixtures) {
      const bitstream = bitstreamOf(f.webp);
      const needs = vp8lNeeds(bitstream);
      expect(needs, f.name).toBeDefined();
      const { workBytes } = decodeVp8lScaled(bitstream, 2, true);
      const planned = vp8lStreamWorkBytes(f.width, f.height, 2, needs);
      expect(planned, f.name).toBeGreaterThanOrEqual(workBytes);
      // What it adds is the fixed scratch allowance (colour caches, group renumbering): 320 KiB.
      expect(planned - workBytes, f.name).toBeLessThanOrEqual(320 * 1024 + 2 * (f.width + 1) * 4);
      expect(vp8lNeeds(bitstream.subarray(0, 5)), `${f.name}, header only`).toBeUndefined();
      expect(vp8lStreamWorkBytes(f.width, f.height, 2)).toBeGreaterThanOrEqual(planned);
    }
  });

  it("keeps alpha only when some pixel is not opaque", () => {
    const withAlpha = bitstreamOf(fixtures.find((f) => f.name.startsWith("photo with alpha"))!.webp);
    const opaque = bitstreamOf(fixtures.find((f) => f.name.startsWith("photo, odd"))!.webp);
    expect(decodeVp8lScaled(withAlpha, 2, true).raster.channels).toBe(4);
    expect(decodeVp8lScaled(withAlpha, 2, false).raster.channels).toBe(3);
    expect(decodeVp8lScaled(opaque, 1, true).raster.channels).toBe(3);
  });
});

describe("damaged VP8L streams end in a CodecError", () => {
  const sample = () => bitstreamOf(fixtures.find((f) => f.name === "photo with alpha, effort 4")!.webp);

  it("a wrong signature is corrupt, a version other than 0 unsupported", () => {
    const bad = Uint8Array.from(sample());
    bad[0] = 0x2e;
    expect(() => decodeVp8lScaled(bad, 1, true)).toThrow(expect.objectContaining({ kind: "corrupt", message: expect.stringMatching(/signature/) }));
    const v1 = Uint8Array.from(sample());
    v1[4] |= 0x20;
    expect(() => readVp8lHeader(v1)).toThrow(expect.objectContaining({ kind: "unsupported", message: expect.stringMatching(/version 1/) }));
  });

  it("a stream cut anywhere is corrupt, and says the bitstream ends", () => {
    const whole = sample();
    for (const keep of [6, 40, 200, whole.length >> 1, whole.length - 4]) {
      const cut = whole.subarray(0, keep);
      expect(() => decodeVp8lScaled(cut, 1, true), `cut at ${keep}`).toThrow(expect.objectContaining({ kind: "corrupt", message: expect.stringMatching(/ends/) }));
    }
  });

  it("flipped bits give a CodecError or a raster of the header's size, never another exception, quickly", () => {
    const failures: string[] = [];
    const rnd = noise(99);
    for (const f of fixtures.filter((x) => /effort 4|palette|noise RGBA/.test(x.name))) {
      const original = bitstreamOf(f.webp);
      for (let trial = 0; trial < 40; trial++) {
        const bytes = Uint8Array.from(original);
        // Past the 5-byte header (its size is what the container and the probe check), up to three bit flips.
        for (let k = 0; k <= trial % 3; k++) {
          const at = 5 + ((rnd() << 8 | rnd()) % (bytes.length - 5));
          bytes[at] ^= 1 << (rnd() & 7);
        }
        const started = performance.now();
        try {
          const { raster } = decodeVp8lScaled(bytes, 1, true);
          if (raster.width !== f.width || raster.height !== f.height) failures.push(`${f.name} #${trial}: ${raster.width}×${raster.height}`);
        } catch (e) {
          if (!(e instanceof CodecError) || /undefined|NaN/.test(e.message)) failures.push(`${f.name} #${trial}: ${String(e)}`);
        }
        if (performance.now() - started > 2000) failures.push(`${f.name} #${trial}: took ${(performance.now() - started).toFixed(0)} ms`);
      }
    }
    expect(failures, failures.join("\n")).toEqual([]);
  });
});

/** Writes a VP8L bitstream by hand, LSB first (RFC 9649 3.2), for streams no encoder writes. */
class Vp8lWriter {
  private bytes: number[] = [];
  private bit = 0;

  /** Writes the 5-byte header: signature, 14-bit width−1 and height−1, no alpha, version 0. */
  constructor(width: number, height: number) {
    this.bits(0x2f, 8).bits(width - 1, 14).bits(height - 1, 14).bits(0, 1).bits(0, 3);
  }

  bits(value: number, count: number): this {
    for (let i = 0; i < count; i++) {
      if (this.bit === 0) this.bytes.push(0);
      this.bytes[this.bytes.length - 1] |= ((value >> i) & 1) << this.bit;
      this.bit = (this.bit + 1) & 7;
    }
    return this;
  }

  /** A simple prefix code of one 8-bit symbol: decoded without reading any bit. */
  oneSymbol(symbol: number): this {
    return this.bits(1, 1).bits(0, 1).bits(1, 1).bits(symbol, 8);
  }

  /** A simple prefix code of two 8-bit symbols, one bit each (the smaller one is bit 0). */
  twoSymbols(a: number, b: number): this {
    return this.bits(1, 1).bits(1, 1).bits(1, 1).bits(a, 8).bits(b, 8);
  }

  /**
   * A normal prefix code for the 280-symbol green alphabet with two 1-bit codes, literal 0 (bit 0) and length
   * prefix 0, a copy of one pixel (bit 1): code-length code {1, 18} (repeat zeros), then 0 → 1, 138 + 117 zeros,
   * 256 → 1, 23 zeros.
   */
  greenLiteralOrCopy(): this {
    this.bits(0, 1).bits(0, 4).bits(0, 3).bits(1, 3).bits(0, 3).bits(1, 3); // 4 code-length lengths: 17, 18, 0, 1
    this.bits(0, 1); // no max_symbol: lengths for the whole alphabet
    return this.bits(0, 1).bits(1, 1).bits(127, 7).bits(1, 1).bits(106, 7).bits(0, 1).bits(1, 1).bits(12, 7);
  }

  done(): Uint8Array {
    // Padding the libwebp reader may prefetch: a real stream is never shorter than what it decodes.
    return Uint8Array.from([...this.bytes, 0, 0, 0, 0]);
  }
}

describe("hand-made VP8L streams that break the format's rules are refused by name", () => {
  const expectCorrupt = (bytes: Uint8Array, message: RegExp) =>
    expect(() => decodeVp8lScaled(bytes, 1, true)).toThrow(expect.objectContaining({ kind: "corrupt", message: expect.stringMatching(message) }));

  it("the writer makes valid streams: one copy after a literal repeats it", () => {
    // No transform, no colour cache, no entropy image; then green {0, copy}, red/blue/alpha 200/0/255, and distance
    // symbol 1: distance code 2, the plane code (dx 1, dy 0), the pixel to the left.
    const w = new Vp8lWriter(3, 1).bits(0, 1).bits(0, 1).bits(0, 1).greenLiteralOrCopy()
      .oneSymbol(200).oneSymbol(0).oneSymbol(255).oneSymbol(1);
    // A literal (200, 0, 0, 255), then two copies of the pixel to its left.
    const { raster, references } = decodeVp8lScaled(w.bits(0, 1).bits(1, 1).bits(1, 1).done(), 1, true);
    expect([raster.width, raster.height, raster.channels, references]).toEqual([3, 1, 3, { count: 2, farthest: 1 }]);
    expect([...raster.data]).toEqual([200, 0, 0, 200, 0, 0, 200, 0, 0]);
  });

  it("the predictor modes libwebp seldom writes (0 black, 3 top-right at the right edge, 4 top-left, 8, 14) undo as the spec says", () => {
    type Rgb = number[];
    const add = (p: Rgb, q: Rgb) => p.map((v, i) => (v + q[i]) & 255);
    const avg = (p: Rgb, q: Rgb) => p.map((v, i) => (v + q[i]) >> 1);
    const black: Rgb = [0, 0, 0];
    const greens = [5, 100, 100, 5, 100, 5];
    const residual = greens.map((g) => [10, g, 20]);
    for (const [mode, predict] of [
      [0, () => black], [3, (_l: Rgb, _t: Rgb, _tl: Rgb, tr: Rgb) => tr], [4, (_l: Rgb, _t: Rgb, tl: Rgb) => tl],
      [8, (_l: Rgb, t: Rgb, tl: Rgb) => avg(tl, t)], [14, () => black],
    ] as Array<[number, (l: Rgb, t: Rgb, tl: Rgb, tr: Rgb) => Rgb]>) {
      // 3×2; a predictor transform of 4×4 blocks whose one block has `mode`; literals with those residuals.
      const w = new Vp8lWriter(3, 2).bits(1, 1).bits(0, 2).bits(0, 3)
        .bits(0, 1).oneSymbol(mode).oneSymbol(0).oneSymbol(0).oneSymbol(0).oneSymbol(0)
        .bits(0, 1).bits(0, 1).bits(0, 1)
        .twoSymbols(5, 100).oneSymbol(10).oneSymbol(20).oneSymbol(0).oneSymbol(0);
      for (const g of greens) w.bits(g === 100 ? 1 : 0, 1);
      // Row 0 predicts from the left (black for the first pixel), the first column from the top; the rightmost
      // pixel's top-right is the first pixel of its own row.
      const p00 = add(black, residual[0]), p10 = add(p00, residual[1]), p20 = add(p10, residual[2]);
      const p01 = add(p00, residual[3]);
      const p11 = add(predict(p01, p10, p00, p20), residual[4]);
      const p21 = add(predict(p11, p20, p10, p01), residual[5]);
      const { raster } = decodeVp8lScaled(w.done(), 1, true);
      expect([...raster.data], `mode ${mode}`).toEqual([...p00, ...p10, ...p20, ...p01, ...p11, ...p21]);
    }
  });

  it("a copy from before the first pixel", () => {
    const w = new Vp8lWriter(4, 4).bits(0, 1).bits(0, 1).bits(0, 1).greenLiteralOrCopy()
      .oneSymbol(0).oneSymbol(0).oneSymbol(255).oneSymbol(0);
    expectCorrupt(w.bits(1, 1).done(), /reaches 4 pixels back, before the image/);
  });

  it("a colour cache over 11 bits", () => {
    expectCorrupt(new Vp8lWriter(4, 4).bits(0, 1).bits(1, 1).bits(12, 4).done(), /colour cache of 12 bits/);
  });

  it("a transform twice", () => {
    expectCorrupt(new Vp8lWriter(4, 4).bits(1, 1).bits(2, 2).bits(1, 1).bits(2, 2).done(), /transform 2 appears twice/);
  });

  it("a simple code naming a symbol outside the distance alphabet", () => {
    const w = new Vp8lWriter(4, 4).bits(0, 1).bits(0, 1).bits(0, 1).greenLiteralOrCopy()
      .oneSymbol(0).oneSymbol(0).oneSymbol(255).oneSymbol(200);
    expectCorrupt(w.done(), /symbol 200 of a 40-symbol alphabet/);
  });

  it("prefix-code tables over the cap are refused as a limit, not allocated", () => {
    const f = fixtures.find((x) => x.name === "photo, odd size, effort 6")!;
    const { structure, workBytes } = decodeVp8lScaled(bitstreamOf(f.webp), 1, true);
    expect(structure.prefixGroups).toBeGreaterThan(1);
    expect(() => decodeVp8lScaled(bitstreamOf(f.webp), 1, true, 2048)).toThrow(
      expect.objectContaining({ kind: "limit", message: expect.stringMatching(/prefix-code tables need over/) }));
    expect(workBytes).toBeGreaterThan(0);
  });
});

describe("a 50 MP lossless WebP renders every eager variant within the 96 MiB budget", () => {
  let modules: EngineModules;
  beforeAll(async () => {
    modules = await loadEngineModules();
  });

  it("a small lossless WebP keeps libwebp; one whose full-size decode does not fit streams", async () => {
    const f = fixtures.find((x) => x.name === "photo, odd size, effort 4")!;
    const target: RenderTarget = { width: 150, height: 101, format: "png", quality: 85, metadata: "none" };
    const plans: RenderReport["plan"][] = [];
    await renderTargets(f.webp, probeImage(f.webp), [target], { modules, maxPixels: 1e8 }, (r) => plans.push(r.plan));
    // libwebp starts at 16 MiB of heap, over a 16 MiB budget; our decoder fits.
    await renderTargets(f.webp, probeImage(f.webp), [target], { modules, maxPixels: 1e8, memoryBudgetBytes: 16 * 2 ** 20 }, (r) => plans.push(r.plan));
    expect(plans.map((p) => [p.decoder, p.scale])).toEqual([["webp", 1], ["vp8l-stream", 2]]);
  });

  // 10000×5000, the eager set of the platform: 1366×683 WebP and JPEG/PNG fallback, a 320 px thumbnail.
  const [W, H] = [10000, 5000];
  const eager = (fallback: "jpeg" | "png"): RenderTarget[] => [
    { width: 1366, height: 683, format: "webp", quality: 85, metadata: "none" },
    { width: 320, height: 160, format: "webp", quality: 85, metadata: "none" },
    { width: 1366, height: 683, format: fallback, quality: 85, metadata: "none" },
  ];

  it("RGBA, effort 0: admitted at upload, measured peak under the budget and under the plan, outputs close to sharp's", async () => {
    // Triangle waves (period 1024) and a soft alpha ramp: smooth, and sharp encodes it at effort 0 in a few seconds.
    const tri = (v: number) => ((v & 1023) < 512 ? v & 1023 : 1023 - (v & 1023)) >> 1;
    const raw = Buffer.alloc(W * H * 4);
    for (let y = 0, i = 0; y < H; y++) {
      for (let x = 0; x < W; x++, i += 4) {
        raw[i] = tri(x); raw[i + 1] = tri(y); raw[i + 2] = tri(x + y); raw[i + 3] = 255 - (tri(x >> 1) >> 1);
      }
    }
    const webp = await lossless(raw, W, H, 4, 0);
    const header = probeImage(webp);
    expect([header.width, header.height, header.hasAlpha]).toEqual([W, H, true]);
    const targets = eager("png");

    const admitted = admitRender(webp.subarray(0, 64 * 1024), header, webp.length, targets, DEFAULT_MEMORY_BUDGET_BYTES);
    expect(admitted.fits).toBe(true);
    expect(admitted.plan).toMatchObject({ decoder: "vp8l-stream", scale: 4 });

    // Streamed in, as the processor reads an original from R2 (and as admission plans it).
    let report: RenderReport | undefined;
    const stream = new Blob([Uint8Array.from(webp)]).stream() as ReadableStream<Uint8Array>;
    const outputs = await renderTargets({ byteLength: webp.length, stream }, header, targets, { modules, maxPixels: 100_000_000 }, (r) => (report = r));
    expect(report!.plan).toMatchObject({ decoder: "vp8l-stream", scale: 4, decodedWidth: 2500, decodedHeight: 1250 });
    expect(report!.plan.peakBytes).toBe(admitted.plan.peakBytes);
    expect(report!.measuredPeakBytes).toBeLessThanOrEqual(DEFAULT_MEMORY_BUDGET_BYTES);
    // The first 64 KiB hold the stream's structure, so the model is exact for the decoder (not its worst case).
    expect(report!.measuredPeakBytes).toBeLessThanOrEqual(report!.plan.peakBytes);
    expect(report!.plan.peakBytes).toBeLessThan(report!.measuredPeakBytes * 1.5);
    const needs = vp8lNeeds(bitstreamOf(webp.subarray(0, 64 * 1024)));
    expect(needs).toBeDefined();
    expect(vp8lStreamWorkBytes(W, H, 4, needs)).toBeLessThan(vp8lStreamWorkBytes(W, H, 4) / 4);

    const onWhite = (bytes: Uint8Array, w?: number, h?: number) => {
      let s = sharp(bytes, { limitInputPixels: false });
      if (w) s = s.resize(w, h, { fit: "fill", kernel: "lanczos3" });
      return s.flatten({ background: "#ffffff" }).removeAlpha().raw().toBuffer();
    };
    for (let i = 0; i < targets.length; i++) {
      const ref = await onWhite(webp, targets[i].width, targets[i].height);
      expect(psnr(await onWhite(outputs[i].bytes), ref), `output ${i}`).toBeGreaterThan(30);
    }
  }, 180_000);
});
