// The decode path against real-world and hostile images (corpus: test/fixtures/robustness-corpus.ts).
//
// The contract: every input either renders (right format, exact requested size) or fails with a CodecError
// whose message is readable — never another exception, never a hang, never a leaked wasm trap, never more
// memory than the budget. Every VALID image must render, and close to sharp's render of it; the probe must
// not refuse what the engine renders. JPEGs also go straight through our decoder (decodeJpeg) at every DCT
// scale, as production will run them once the kernel is wired into the engine.
import { beforeAll, describe, expect, it } from "vitest";
import sharp from "sharp";
import { readFileSync } from "node:fs";
import { renderTargets, decodeContext, CodecError, type EngineModules, type RenderTarget, type RenderedOutput, type RenderReport, type SourceInfo } from "../../wasm/src/engine.ts";
import { loadEngineModules } from "../../wasm/src/modules.node.ts";
import { probeImage, type ImageHeader } from "../../wasm/src/probe.ts";
import { decodeJpeg, type JpegScale } from "../../wasm/src/jpeg.ts";
import { decodeGifFirstFrame } from "../../wasm/src/codecs/gif.ts";
import { decodePng } from "../../wasm/src/formats/png.ts";
import { decodeWebp } from "../../wasm/src/formats/webp.ts";
import type { Raster } from "../../wasm/src/raster.ts";
import { avifFrameLargerThanIspe, hostileCorpus, pngChunk, pngChunks, validCorpus, type CorpusImage, type HostileImage } from "../fixtures/robustness-corpus.ts";
import { psnr, rgbOnWhite } from "./fixtures.ts";

const valid = await validCorpus();
const hostile = hostileCorpus(valid);

const MAX_PIXELS = 100_000_000;
const BUDGET = 96 * 1024 * 1024;
/** Per-case wall-clock limit. Generous for a shared 2-core machine; a real hang is orders of magnitude beyond. */
const CASE_MS = 4000;
/**
 * Per-call limit for our JPEG decoder on these small inputs. Before it stopped scans whose data ran out,
 * a header-only 100 MP bomb took 1–10 s here; now every case takes well under 200 ms.
 */
const KERNEL_MS = 1000;
const SCALES: JpegScale[] = [1, 2, 4, 8];

const jpegModule = new (WebAssembly.Module as unknown as new (b: Uint8Array) => WebAssembly.Module)(
  readFileSync(new URL("../../wasm/build/jpeg.wasm", import.meta.url)),
);

let modules: EngineModules;
beforeAll(async () => {
  modules = await loadEngineModules();
});

function orientedSize(h: Pick<ImageHeader, "width" | "height" | "orientation">): { width: number; height: number } {
  return h.orientation >= 5 ? { width: h.height, height: h.width } : { width: h.width, height: h.height };
}

/**
 * A `long` px (longest side) WebP and a 100×100 centre-cover JPEG, the two variants every upload gets here.
 * Valid images get 320 px; hostile ones 128 px, because libwebp's method 6 (thumbnails) with alpha costs
 * ~0.7 s at 320 px and hundreds of cases must run in well under a minute.
 */
function targetsFor(h: ImageHeader, long = 320): RenderTarget[] {
  const o = orientedSize(h);
  const fit = (n: number) => Math.max(1, Math.round((n * long) / Math.max(o.width, o.height)));
  const side = Math.min(o.width, o.height);
  const crop = { left: Math.floor((o.width - side) / 2), top: Math.floor((o.height - side) / 2), width: side, height: side };
  return [
    { width: fit(o.width), height: fit(o.height), format: "webp", quality: 80, metadata: "none" },
    { width: 100, height: 100, crop, format: "jpeg", quality: 80, metadata: "keep" },
  ];
}

const sourceInfo = (h: ImageHeader): SourceInfo => ({ format: h.format, width: h.width, height: h.height, orientation: h.orientation, hasAlpha: h.hasAlpha });

/** Fails unless `e` is a CodecError with a message a person can read. */
function expectReadableCodecError(e: unknown, where: string): asserts e is CodecError {
  if (!(e instanceof CodecError)) {
    throw new Error(`${where}: expected a CodecError, got ${e instanceof Error ? `${e.constructor.name}: ${e.message}` : typeof e}`);
  }
  expect(["unsupported", "corrupt", "limit"], `${where}: kind`).toContain(e.kind);
  expect(e.message.length, `${where}: message "${e.message}"`).toBeGreaterThan(8);
  expect(e.message.length, `${where}: message too long`).toBeLessThan(400);
  expect(e.message, `${where}: unreadable message`).not.toMatch(/[\u0000-\u001f]|undefined(?! [a-zA-Z])|\[object|\bNaN\b/);
  // @jsquash/png's own word for every png-crate error.
  expect(e.message, `${where}: unreadable message`).not.toMatch(/unwrap_throw/);
}

/** Checks the outputs are what the targets asked for, by reading the encoded bytes back. */
async function expectOutputsMatch(outputs: RenderedOutput[], targets: RenderTarget[], where: string): Promise<void> {
  expect(outputs.length, where).toBe(targets.length);
  for (let i = 0; i < targets.length; i++) {
    const meta = await sharp(outputs[i].bytes).metadata();
    expect({ format: meta.format, width: meta.width, height: meta.height }, `${where}: output ${i}`).toEqual({
      format: targets[i].format,
      width: targets[i].width,
      height: targets[i].height,
    });
  }
}

type Outcome = { ok: true; header: ImageHeader; outputs: RenderedOutput[]; targets: RenderTarget[] } | { ok: false; stage: "probe" | "render"; error: CodecError };

/** Probe, then render: the upload path. Asserts the contract on whatever happens. */
async function runUploadPath(img: CorpusImage, long = 320): Promise<Outcome> {
  const started = performance.now();
  let header: ImageHeader;
  try {
    header = probeImage(img.bytes);
  } catch (e) {
    expectReadableCodecError(e, `${img.name}: probeImage`);
    return { ok: false, stage: "probe", error: e };
  }
  const targets = targetsFor(header, long);
  const reports: RenderReport[] = [];
  try {
    const outputs = await renderTargets(img.bytes, sourceInfo(header), targets, { modules, maxPixels: MAX_PIXELS, memoryBudgetBytes: BUDGET }, (r) => reports.push(r));
    await expectOutputsMatch(outputs, targets, img.name);
    for (const r of reports) expect(r.maxWasmHeapBytes, `${img.name}: wasm heap`).toBeLessThanOrEqual(BUDGET);
    return { ok: true, header, outputs, targets };
  } catch (e) {
    expectReadableCodecError(e, `${img.name}: renderTargets`);
    return { ok: false, stage: "render", error: e };
  } finally {
    expect(performance.now() - started, `${img.name}: took too long`).toBeLessThan(CASE_MS);
  }
}

/** Our JPEG decoder directly, at one scale, with the engine's budget: a raster of the right size or a CodecError. */
function runJpegKernel(bytes: Uint8Array, scale: JpegScale, where: string): Raster | CodecError {
  const started = performance.now();
  try {
    const r = decodeJpeg(jpegModule, bytes, scale, { maxPixels: MAX_PIXELS, maxMemoryBytes: BUDGET });
    expect(r.channels, where).toBe(3);
    expect(r.data.length, where).toBe(r.width * r.height * 3);
    return r;
  } catch (e) {
    expectReadableCodecError(e, `${where}: decodeJpeg 1/${scale}`);
    return e;
  } finally {
    expect(performance.now() - started, `${where}: decodeJpeg 1/${scale} took too long`).toBeLessThan(KERNEL_MS);
  }
}

/** sharp's render of a target (orient, crop, exact-size Lanczos) as RGB on white, for the content check. */
async function sharpReference(bytes: Uint8Array, t: RenderTarget): Promise<Buffer> {
  let s = sharp(bytes, { failOn: "none" }).rotate();
  if (t.crop) s = s.extract(t.crop);
  const png = await s.resize(t.width, t.height, { fit: "fill", kernel: "lanczos3" }).png().toBuffer();
  return (await rgbOnWhite(png)).data;
}

/**
 * Minimum PSNR of our render against sharp's. Loose on purpose (encoders, resamplers and upsampling differ);
 * a wrong orientation, channel order or a grey/garbled decode lands far below.
 */
const MIN_PSNR_DB = 22;

/** Where sharp and we legitimately differ more. */
const MIN_PSNR_EXCEPTIONS: Record<string, { db: number; why: string }> = {
  jpegCmyk: { db: 14, why: "sharp converts CMYK through an ICC profile, we convert naively (documented in jpeg.ts)" },
};

describe("valid images: every one renders, close to sharp", () => {
  it("the corpus covers every format and its real-world variants", () => {
    const byFormat = (f: string) => valid.filter((x) => x.format === f).length;
    expect(byFormat("jpeg")).toBeGreaterThanOrEqual(29);
    expect(byFormat("png")).toBeGreaterThanOrEqual(20);
    expect(byFormat("webp")).toBeGreaterThanOrEqual(7);
    expect(byFormat("avif")).toBeGreaterThanOrEqual(4);
    expect(byFormat("gif")).toBeGreaterThanOrEqual(4);
  });

  const validCase = async (img: CorpusImage) => {
    const meta = await sharp(img.bytes).metadata();
    const header = probeImage(img.bytes);
    expect({ width: header.width, height: header.height, orientation: header.orientation }, `${img.name} (${img.note}): probe`).toEqual({
      width: meta.width,
      height: meta.height,
      orientation: meta.orientation ?? 1,
    });
    const result = await runUploadPath(img);
    if (!result.ok) throw new Error(`${img.name} (${img.note}) did not render: ${result.stage}: ${result.error.message}`);
    const min = MIN_PSNR_EXCEPTIONS[img.name]?.db ?? MIN_PSNR_DB;
    for (let i = 0; i < result.targets.length; i++) {
      const ours = await rgbOnWhite(result.outputs[i].bytes);
      const ref = await sharpReference(img.bytes, result.targets[i]);
      expect(psnr(ours.data, ref), `${img.name} output ${i} vs sharp`).toBeGreaterThan(min);
    }
    if (img.format === "jpeg" && header.orientation === 1) {
      // Our decoder at every scale, against sharp's full decode resized to the same size.
      for (const scale of SCALES) {
        const r = runJpegKernel(img.bytes, scale, img.name);
        if (r instanceof CodecError) throw new Error(`${img.name}: decodeJpeg 1/${scale} refused a valid JPEG: ${r.message}`);
        expect([r.width, r.height]).toEqual([Math.ceil(header.width / scale), Math.ceil(header.height / scale)]);
        const ref = await sharp(img.bytes, { failOn: "none" }).resize(r.width, r.height, { fit: "fill", kernel: "cubic" }).removeAlpha().toColourspace("srgb").raw().toBuffer();
        expect(psnr(r.data, ref), `${img.name} decodeJpeg 1/${scale} vs sharp`).toBeGreaterThan(MIN_PSNR_EXCEPTIONS[img.name]?.db ?? 20);
      }
    }
  };
  for (const img of valid) it(img.name, () => validCase(img));
});

describe("hostile images: render or a readable CodecError, bounded in time and memory", () => {
  it("the corpus has every kind of damage", () => {
    for (const kind of ["truncated@", "bitflip", "zeroed@", "length", "bomb", "Flood"]) {
      expect(hostile.filter((x) => x.name.includes(kind)).length, kind).toBeGreaterThan(5);
    }
  });

  const byBase = new Map<string, HostileImage[]>();
  for (const h of hostile) byBase.set(h.base, [...(byBase.get(h.base) ?? []), h]);

  // One test per base image keeps the report readable; every failing variant is named in the message.
  describe.each([...byBase.entries()])("variants of %s", (_base, variants) => {
    it(`${variants.length} variants through probe + render`, async () => {
      const failures: string[] = [];
      for (const img of variants) {
        if (FORMER_HANGS[img.name]) continue; // run on its own below, so a regression names it
        try {
          const result = await runUploadPath(img, 128);
          // A "limit" refusal is the probe stopping a bomb on purpose; running the engine on it is the hazard.
          if (!result.ok && result.stage === "probe" && result.error.kind !== "limit") await expectProbeRefusalJustified(img);
        } catch (e) {
          failures.push(`${img.name} (${img.note}): ${e instanceof Error ? e.message : String(e)}`);
        }
      }
      expect(failures, failures.join("\n")).toEqual([]);
    });

    if (variants[0].format === "jpeg") {
      it(`${variants.length} variants through decodeJpeg at 1/1, 1/2, 1/4, 1/8`, () => {
        const failures: string[] = [];
        for (const img of variants) {
          for (const scale of SCALES) {
            try {
              runJpegKernel(img.bytes, scale, img.name);
            } catch (e) {
              failures.push(`${img.name} (${img.note}) at 1/${scale}: ${e instanceof Error ? e.message : String(e)}`);
            }
          }
        }
        expect(failures, failures.join("\n")).toEqual([]);
      });
    }
  });
});

describe("bombs the probe must stop before any decoder sees them", () => {
  it("an AVIF whose AV1 frame (4000×4000) is far larger than its ispe (64×64)", async () => {
    // Without the check libavif decodes the 16 MP frame (≈1.3 s, 300 MB of heap) before rejecting it.
    const img = { name: "avifFrameLargerThanIspe", format: "avif" as const, note: "flat 4000×4000 AVIF, ispe patched", bytes: await avifFrameLargerThanIspe() };
    const result = await runUploadPath(img);
    expect(result.ok || result.stage).toBe("probe");
    expect(!result.ok && result.error.kind).toBe("limit");
  });
});

/**
 * Inputs that used to hang: a synchronous infinite loop cannot be timed out in-process, so each runs alone and
 * must end (render or CodecError) within the per-case limit.
 */
const FORMER_HANGS: Record<string, string> = {
  // omggif 1.0.10 (our GIF decoder before codecs/gif.ts) let a corrupt LZW stream make a code-table entry its
  // own prefix, and its chain walk (`while (chase > clear_code) chase = code_table[chase] >> 8`) never ended.
  "gifInterlaced-bitflips1": "corrupt LZW stream that made omggif's chain walk loop forever",
};

describe("inputs that used to hang end quickly", () => {
  for (const [name, problem] of Object.entries(FORMER_HANGS)) {
    it(`${name}: ${problem}`, async () => {
      const img = hostile.find((x) => x.name === name);
      expect(img, name).toBeDefined();
      await runUploadPath(img!, 128);
    });
  }
});

describe("GIF first frame (codecs/gif.ts) against sharp's decode of page 0", () => {
  for (const name of ["gifStill", "gifTransparent", "gifInterlaced", "gifAnimatedLocalPalettes", "gif1x1"]) {
    it(name, async () => {
      const img = valid.find((x) => x.name === name)!;
      const ours = decodeGifFirstFrame(img.bytes);
      const ref = await sharp(img.bytes, { page: 0 }).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
      expect([ours.width, ours.height]).toEqual([ref.info.width, ref.info.height]);
      let differing = 0;
      for (let i = 0; i < ours.data.length; i += 4) {
        const a = ours.data[i + 3], b = ref.data[i + 3];
        // Transparent pixels may carry any colour; opaque ones must match.
        const same = a === b && (a === 0 || (ours.data[i] === ref.data[i] && ours.data[i + 1] === ref.data[i + 1] && ours.data[i + 2] === ref.data[i + 2]));
        if (!same) differing++;
      }
      expect(differing, `${name}: pixels differing from sharp`).toBe(0);
    });
  }

  /** A GIF89a from parts: screen, global palette, optional GCE transparency, one frame, raw LZW sub-blocks. */
  const gif = (o: { screen: [number, number]; frame: [number, number, number, number]; transparent?: number; minCode?: number; lzw: number[] }) => {
    const [sw, sh] = o.screen;
    const [fl, ft, fw, fh] = o.frame;
    const le = (v: number) => [v & 255, v >> 8];
    const palette = [0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255]; // black, red, green, blue
    return new Uint8Array([
      ...Buffer.from("GIF89a", "latin1"), ...le(sw), ...le(sh), 0x81, 0, 0, ...palette,
      ...(o.transparent !== undefined ? [0x21, 0xf9, 4, 1, 0, 0, o.transparent, 0] : []),
      0x2c, ...le(fl), ...le(ft), ...le(fw), ...le(fh), 0, o.minCode ?? 2,
      ...(o.lzw.length ? [o.lzw.length, ...o.lzw] : []), 0, 0x3b,
    ]);
  };
  /** Packs codes LSB-first at the GIF's growing code width (no table growth beyond the codes given). */
  const packCodes = (codes: number[], widths: number[]) => {
    const out: number[] = [];
    let acc = 0, n = 0;
    codes.forEach((c, i) => {
      acc |= c << n;
      n += widths[i];
      while (n >= 8) { out.push(acc & 255); acc >>>= 8; n -= 8; }
    });
    if (n > 0) out.push(acc & 255);
    return out;
  };

  it("composes a small frame at its offset, transparent elsewhere and at the transparency index", () => {
    // 2×1 frame at (1, 1) on a 3×2 screen: red, then index 0 (transparent). Codes: clear, 1, 0, end.
    const img = decodeGifFirstFrame(gif({ screen: [3, 2], frame: [1, 1, 2, 1], transparent: 0, lzw: packCodes([4, 1, 0, 5], [3, 3, 3, 3]) }));
    expect([img.width, img.height]).toEqual([3, 2]);
    const px = (x: number, y: number) => [...img.data.subarray((y * 3 + x) * 4, (y * 3 + x) * 4 + 4)];
    expect(px(1, 1)).toEqual([255, 0, 0, 255]);
    expect(px(2, 1)[3]).toBe(0);
    expect(px(0, 0)[3]).toBe(0);
    expect(px(0, 1)[3]).toBe(0);
  });

  it("decodes the KwKwK case (a code equal to the next free entry)", () => {
    // clear, 1, 6 (= "1,1", not yet in the table), end → three red pixels.
    const img = decodeGifFirstFrame(gif({ screen: [3, 1], frame: [0, 0, 3, 1], lzw: packCodes([4, 1, 6, 5], [3, 3, 3, 3]) }));
    expect([...img.data]).toEqual([255, 0, 0, 255, 255, 0, 0, 255, 255, 0, 0, 255]);
  });

  it("leaves what a stream that ends early does not reach transparent, and ignores data past the frame", () => {
    const shortStream = gif({ screen: [4, 1], frame: [0, 0, 4, 1], lzw: packCodes([4, 2], [3, 3]) });
    const short = decodeGifFirstFrame(shortStream);
    expect([...short.data.subarray(0, 4)]).toEqual([0, 255, 0, 255]);
    expect(short.data[7]).toBe(0);
    // Cut inside the image data (no block terminator): damaged, as a JPEG without its EOI.
    expect(() => decodeGifFirstFrame(shortStream.subarray(0, shortStream.length - 2))).toThrow(/truncated inside the first frame/);
    const long = decodeGifFirstFrame(gif({ screen: [1, 1], frame: [0, 0, 1, 1], lzw: packCodes([4, 3, 1, 1, 1, 5], [3, 3, 3, 3, 4, 4]) }));
    expect([...long.data]).toEqual([0, 0, 255, 255]);
  });

  it("refuses codes the table cannot have, a bad code size and a frame far larger than the screen", () => {
    const refuse = (bytes: Uint8Array, kind: string, message: RegExp) => {
      let error: unknown;
      try {
        decodeGifFirstFrame(bytes);
      } catch (e) {
        error = e;
      }
      expectReadableCodecError(error, "decodeGifFirstFrame");
      expect(error.kind).toBe(kind);
      expect(error.message).toMatch(message);
    };
    refuse(gif({ screen: [4, 1], frame: [0, 0, 4, 1], lzw: packCodes([4, 1, 7], [3, 3, 3]) }), "corrupt", /outside the table/);
    refuse(gif({ screen: [4, 1], frame: [0, 0, 4, 1], lzw: packCodes([4, 6], [3, 3]) }), "corrupt", /not a colour index/);
    refuse(gif({ screen: [4, 1], frame: [0, 0, 4, 1], minCode: 12, lzw: [0] }), "corrupt", /code size 12/);
    refuse(gif({ screen: [10, 10], frame: [0, 0, 5000, 4000], lzw: packCodes([4, 5], [3, 3]) }), "limit", /far larger/);
  });
});

describe("PNG: ancillary chunks the Rust png crate would refuse are dropped; its errors are made readable", () => {
  const base = () => valid.find((x) => x.name === "pngRgb8")!.bytes;
  /** `b` with `extra` chunks inserted right after IHDR. */
  const withChunks = (b: Uint8Array, extra: Uint8Array[]) => {
    const ihdrEnd = 8 + 12 + 13;
    return new Uint8Array(Buffer.concat([b.subarray(0, ihdrEnd), ...extra, b.subarray(ihdrEnd)]));
  };
  const decoded = async (b: Uint8Array) => (await decodePng(b, decodeContext(modules, true, MAX_PIXELS))).raster;
  const refuse = async (b: Uint8Array, message: RegExp) => {
    let error: unknown;
    try {
      await decodePng(b, decodeContext(modules, true, MAX_PIXELS));
    } catch (e) {
      error = e;
    }
    expectReadableCodecError(error, "decodePng");
    expect(error.kind).toBe("corrupt");
    expect(error.message).toMatch(message);
  };

  it("malformed tEXt/zTXt/iTXt, an ancillary chunk with a bad CRC and APNG chunks leave the pixels alone", async () => {
    const badCrc = pngChunk("gAMA", [0, 0, 0xb1, 0x8f]);
    badCrc[badCrc.length - 1] ^= 0xff;
    const messy = withChunks(base(), [
      pngChunk("tEXt", [...Buffer.from("Comment", "latin1")]),
      pngChunk("zTXt", [...Buffer.from("Title", "latin1"), 0, 0, 1, 2, 3]),
      pngChunk("iTXt", [...Buffer.from("XML", "latin1")]),
      pngChunk("acTL", [0, 0, 0, 0, 0, 0, 0, 0]),
      badCrc,
    ]);
    const ours = await decoded(messy);
    const ref = await decoded(base());
    expect([ours.width, ours.height, ours.channels]).toEqual([ref.width, ref.height, ref.channels]);
    expect(Buffer.from(ours.data).equals(Buffer.from(ref.data))).toBe(true);
  });

  it("keeps tRNS (palette transparency survives)", async () => {
    const img = valid.find((x) => x.name === "pngPaletteTrns")!.bytes;
    const withText = withChunks(img, [pngChunk("tEXt", [...Buffer.from("Comment", "latin1")])]);
    const ours = await decoded(withText);
    expect(ours.channels).toBe(4);
    const ref = await sharp(img).ensureAlpha().raw().toBuffer();
    expect(Buffer.from(ours.data).equals(ref)).toBe(true);
  });

  it("names the damage the crate only calls \"unwrap_throw failed\"", async () => {
    const b = base();
    const idat = pngChunks(b).find((c) => c.type === "IDAT")!;
    // (The crate does not check CRCs, so a bad CRC alone decodes; it is named only when the decode fails.)
    const noIdat = new Uint8Array(Buffer.concat(pngChunks(b).filter((c) => c.type !== "IDAT").map((c) => b.subarray(c.at, c.at + 12 + c.length))));
    await refuse(new Uint8Array(Buffer.concat([b.subarray(0, 8), noIdat])), /no IDAT chunk/);
    await refuse(b.slice(0, idat.at + 8 + (idat.length >> 1)), /truncated/);
    // A damaged zlib stream with a valid CRC: the chunk structure is sound, so the message is generic but readable.
    const data = b.slice(idat.at + 8, idat.at + 8 + idat.length);
    data[0] = 0; // zlib header: compression method 0 (only 8, deflate, exists)
    const zlibBroken = new Uint8Array(Buffer.concat([b.subarray(0, idat.at), pngChunk("IDAT", data), b.subarray(idat.at + 12 + idat.length)]));
    await refuse(zlibBroken, /PNG decode failed: the image data is damaged/);
  });
});

describe("animated WebP: the first frame (codecs/webp-animation.ts), against sharp's decode of page 0", () => {
  const le = (v: number, n: number) => Array.from({ length: n }, (_, i) => (v >>> (8 * i)) & 255);
  const chunk = (fourcc: string, payload: Uint8Array | number[]) =>
    new Uint8Array([...Buffer.from(fourcc, "latin1"), ...le(payload.length, 4), ...payload, ...(payload.length & 1 ? [0] : [])]);
  /** An animated WebP of one frame: the image chunks of `still` (ALPH, VP8/VP8L) in an ANMF at `left, top` on a canvas. */
  const animated = (still: Uint8Array, canvas: [number, number], at: [number, number], frameSize: [number, number]) => {
    const parts: Uint8Array[] = [];
    for (let p = 12; p + 8 <= still.length; ) {
      const size = le32(still, p + 4);
      const fourcc = Buffer.from(still.subarray(p, p + 4)).toString("latin1");
      if (fourcc === "ALPH" || fourcc === "VP8 " || fourcc === "VP8L") parts.push(still.subarray(p, p + 8 + size + (size & 1)));
      p += 8 + size + (size & 1);
    }
    const frame = [...le(at[0] / 2, 3), ...le(at[1] / 2, 3), ...le(frameSize[0] - 1, 3), ...le(frameSize[1] - 1, 3), ...le(100, 3), 0];
    const body = [
      chunk("VP8X", [0x12, 0, 0, 0, ...le(canvas[0] - 1, 3), ...le(canvas[1] - 1, 3)]),
      chunk("ANIM", [0, 0, 0, 0, 0, 0]),
      chunk("ANMF", new Uint8Array(Buffer.concat([new Uint8Array(frame), ...parts]))),
    ];
    return new Uint8Array(Buffer.concat([Buffer.from("RIFF", "latin1"), new Uint8Array(le(4 + body.reduce((n, b) => n + b.length, 0), 4)), Buffer.from("WEBP", "latin1"), ...body]));
  };
  const le32 = (b: Uint8Array, at: number) => (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
  /** Our decode as RGBA (keepAlpha, so nothing is dropped), and sharp's page 0 as RGBA. */
  const both = async (bytes: Uint8Array) => {
    const ours = (await decodeWebp(bytes, decodeContext(modules, true, MAX_PIXELS))).raster;
    const ref = await sharp(bytes, { page: 0 }).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
    expect([ours.width, ours.height]).toEqual([ref.info.width, ref.info.height]);
    const rgbaOurs = ours.channels === 4 ? ours.data : new Uint8Array(Buffer.from(await sharp(ours.data, { raw: { width: ours.width, height: ours.height, channels: 3 } }).ensureAlpha().raw().toBuffer()));
    return { ours: rgbaOurs, ref: ref.data, width: ours.width };
  };
  /** Largest per-sample difference, counting only colour of pixels that are not fully transparent in both. */
  const maxDiff = (a: Uint8Array, b: Uint8Array) => {
    let max = 0;
    for (let i = 0; i < a.length; i += 4) {
      max = Math.max(max, Math.abs(a[i + 3] - b[i + 3]));
      if (a[i + 3] === 0 && b[i + 3] === 0) continue;
      for (let k = 0; k < 3; k++) max = Math.max(max, Math.abs(a[i + k] - b[i + k]));
    }
    return max;
  };

  it("webpAnimated (sharp, lossy with alpha, full-canvas frames)", async () => {
    const { ours, ref } = await both(valid.find((x) => x.name === "webpAnimated")!.bytes);
    expect(maxDiff(ours, ref)).toBeLessThanOrEqual(2);
  });

  it("a lossless (VP8L) first frame at an offset: transparent around it", async () => {
    const still = new Uint8Array(await sharp({ create: { width: 10, height: 6, channels: 3, background: "#3366cc" } }).webp({ lossless: true }).toBuffer());
    const bytes = animated(still, [20, 16], [4, 6], [10, 6]);
    const { ours, ref, width } = await both(bytes);
    expect(maxDiff(ours, ref)).toBe(0);
    expect([...ours.subarray(0, 4)]).toEqual([0, 0, 0, 0]);
    expect([...ours.subarray((6 * width + 4) * 4, (6 * width + 4) * 4 + 4)]).toEqual([0x33, 0x66, 0xcc, 255]);
  });

  it("a lossy first frame with an ALPH chunk at an offset", async () => {
    const still = new Uint8Array(await sharp({ create: { width: 12, height: 8, channels: 4, background: { r: 200, g: 40, b: 40, alpha: 0.5 } } }).webp({ quality: 90 }).toBuffer());
    const { ours, ref } = await both(animated(still, [16, 12], [2, 2], [12, 8]));
    expect(maxDiff(ours, ref)).toBeLessThanOrEqual(2);
  });

  it("refuses a first frame outside the canvas, or one whose ANMF size disagrees with its bitstream", async () => {
    const still = new Uint8Array(await sharp({ create: { width: 10, height: 6, channels: 3, background: "#3366cc" } }).webp({ lossless: true }).toBuffer());
    for (const [bytes, message] of [
      [animated(still, [12, 8], [4, 6], [10, 6]), /outside the 12×8 canvas/],
      [animated(still, [20, 16], [0, 0], [8, 6]), /bitstream is 10×6, its ANMF chunk says 8×6/],
    ] as const) {
      let error: unknown;
      try {
        await decodeWebp(bytes, decodeContext(modules, true, MAX_PIXELS));
      } catch (e) {
        error = e;
      }
      expectReadableCodecError(error, "decodeWebp");
      expect(error.message).toMatch(message);
    }
  });
});

/**
 * When the probe refuses a file, the engine must not be able to render it either (given the valid base's
 * header, which is what the probe would have needed to say): a refused upload that would have rendered is
 * a lost image.
 */
async function expectProbeRefusalJustified(img: HostileImage): Promise<void> {
  const base = valid.find((x) => x.name === img.base)!;
  const header = probeImage(base.bytes);
  let rendered = false;
  try {
    await renderTargets(img.bytes, sourceInfo(header), targetsFor(header, 128), { modules, maxPixels: MAX_PIXELS, memoryBudgetBytes: BUDGET });
    rendered = true;
  } catch (e) {
    expectReadableCodecError(e, `${img.name}: renderTargets after probe refusal`);
  }
  if (rendered) throw new Error(`probe refused ${img.name}, but the engine renders it`);
}
