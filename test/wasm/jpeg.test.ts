// The wasm JPEG decoder against sharp (libjpeg-turbo) as the reference decoder.
//
// Tolerances: at 1/1 the decoder uses a float IDCT and the same triangle ("fancy") chroma upsampling as
// libjpeg-turbo for factor-2 subsampling, so results agree to rounding (> 45 dB for 4:4:4 and gray, > 38 dB
// luma / > 36 dB RGB for subsampled, whose rounding and edge handling differ slightly). At 1/2, 1/4 and 1/8
// the reference is sharp's full decode box-averaged down; DCT-domain scaling samples the low-passed block
// instead of averaging pixels, so we require > 30 dB (mean abs error around 1-2 levels on these images).
import { describe, expect, it } from "vitest";
import sharp from "sharp";
import type { JpegOptions } from "sharp";
import { readFileSync } from "node:fs";
import { decodeJpeg, estimateJpegDecodeBytes, readJpegHeader } from "../../wasm/src/jpeg.ts";
import type { JpegScale } from "../../wasm/src/jpeg.ts";
import { CodecError } from "../../wasm/src/errors.ts";
import {
  boxDownscale, cmykInkToRgb, encodeBaseline, encodeProgressive, findMarker, meanAbsError, syntheticPhoto, withoutSegment, yccPlanes,
} from "./jpeg-fixtures.ts";
import { expectCodecError, psnr } from "./measure.ts";

// Workers load wasm precompiled (their types make Module abstract); Node compiles it from the bytes.
const compileModule = (bytes: Uint8Array) => new (WebAssembly.Module as unknown as new (b: Uint8Array) => WebAssembly.Module)(bytes);

const jpegModule = compileModule(readFileSync(new URL("../../wasm/build/jpeg.wasm", import.meta.url)));
const SCALES: JpegScale[] = [1, 2, 4, 8];
/**
 * Minimum PSNR at 1/1 (luma for subsampled images): the float IDCT agrees with libjpeg-turbo's integer one
 * to ~57 dB; a decoder that drops successive-approximation correction bits falls to ~49 dB.
 */
const FULL = 52;

async function sharpRgb(jpeg: Uint8Array): Promise<{ data: Uint8Array; width: number; height: number }> {
  const { data, info } = await sharp(jpeg).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

/** BT.601 luma of interleaved RGB, to compare detail independently of chroma upsampling. */
function luma(rgb: Uint8Array): Uint8Array {
  const out = new Uint8Array(rgb.length / 3);
  for (let i = 0; i < out.length; i++) out[i] = Math.round(0.299 * rgb[i * 3] + 0.587 * rgb[i * 3 + 1] + 0.114 * rgb[i * 3 + 2]);
  return out;
}

interface Tolerance {
  /** Minimum RGB PSNR at 1/1 and at the scaled outputs. */
  full: number;
  scaled?: number;
  /** Subsampled chroma: replicated here, interpolated (1/1) or averaged (scaled) by the reference. */
  subsampled?: boolean;
  /** Subsampling by 3 or 4: chroma is replicated, not interpolated; the scaled RGB bound drops to 25 dB. */
  replicated?: boolean;
}

/** Decodes at `scale` and checks dimensions and PSNR against the reference box-downscaled. */
function expectMatches(jpeg: Uint8Array, ref: { data: Uint8Array; width: number; height: number }, scale: JpegScale, tol: Tolerance): void {
  const out = decodeJpeg(jpegModule, jpeg, scale);
  expect(out.channels).toBe(3);
  expect(out.width).toBe(Math.ceil(ref.width / scale));
  expect(out.height).toBe(Math.ceil(ref.height / scale));
  expect(out.data.length).toBe(out.width * out.height * 3);
  const expected = scale === 1 ? ref.data : boxDownscale(ref.data, ref.width, ref.height, 3, scale);
  const db = psnr(out.data, expected);
  const what = `1/${scale}: RGB PSNR ${db.toFixed(1)} dB, mean abs error ${meanAbsError(out.data, expected).toFixed(2)}`;
  if (tol.subsampled) {
    // Factor-2 chroma is triangle-filtered like libjpeg, other factors replicated; at scaled outputs the
    // reference averages chroma that we interpolate. RGB may differ more than luma, which must agree.
    expect(db, what).toBeGreaterThan(scale === 1 ? 45 : tol.replicated ? 25 : 30);
    expect(psnr(luma(out.data), luma(expected)), `${what}, luma`).toBeGreaterThan(scale === 1 ? tol.full : tol.scaled ?? 30);
  } else {
    expect(db, what).toBeGreaterThan(scale === 1 ? tol.full : tol.scaled ?? 30);
  }
}

async function sharpJpeg(raw: Buffer, width: number, height: number, options: JpegOptions): Promise<Uint8Array> {
  return new Uint8Array(await sharp(raw, { raw: { width, height, channels: 3 } }).jpeg(options).toBuffer());
}


describe("sharp-encoded YCbCr JPEGs at every scale", () => {
  const width = 203;
  const height = 141;
  const raw = syntheticPhoto(width, height);
  for (const progressive of [false, true]) {
    for (const chromaSubsampling of ["4:4:4", "4:2:0"]) {
      it(`${progressive ? "progressive" : "baseline"} ${chromaSubsampling}`, async () => {
        const jpeg = await sharpJpeg(raw, width, height, { quality: 90, progressive, chromaSubsampling });
        const header = readJpegHeader(jpeg);
        expect(header).toMatchObject({ width, height, components: 3, progressive, colorSpace: "ycbcr", supported: true });
        const ref = await sharpRgb(jpeg);
        for (const scale of SCALES) expectMatches(jpeg, ref, scale, { full: FULL, subsampled: chromaSubsampling !== "4:4:4" });
      });
    }
  }

  it("progressive with optimised scans and trellis (mozjpeg defaults) at every scale", async () => {
    const jpeg = await sharpJpeg(raw, width, height, { quality: 75, mozjpeg: true });
    expect(readJpegHeader(jpeg).progressive).toBe(true);
    const ref = await sharpRgb(jpeg);
    for (const scale of SCALES) expectMatches(jpeg, ref, scale, { full: FULL, subsampled: true });
  });

  it("low quality (large coefficients, long Huffman codes) still matches", async () => {
    for (const progressive of [false, true]) {
      const jpeg = await sharpJpeg(raw, width, height, { quality: 20, progressive, chromaSubsampling: "4:2:0" });
      const ref = await sharpRgb(jpeg);
      for (const scale of SCALES) expectMatches(jpeg, ref, scale, { full: FULL, subsampled: true });
    }
  });

  it("high quality 4:4:4 is near-identical to libjpeg-turbo at 1/1", async () => {
    const jpeg = await sharpJpeg(raw, width, height, { quality: 100, chromaSubsampling: "4:4:4" });
    const out = decodeJpeg(jpegModule, jpeg, 1);
    const ref = await sharpRgb(jpeg);
    expect(meanAbsError(out.data, ref.data)).toBeLessThan(0.6);
  });
});

describe("grayscale", () => {
  for (const progressive of [false, true]) {
    it(`${progressive ? "progressive" : "baseline"} gray decodes to R=G=B at every scale`, async () => {
      const width = 150;
      const height = 97;
      const raw = syntheticPhoto(width, height, 3);
      const jpeg = new Uint8Array(
        await sharp(raw, { raw: { width, height, channels: 3 } }).toColourspace("b-w").jpeg({ quality: 90, progressive }).toBuffer(),
      );
      expect(readJpegHeader(jpeg)).toMatchObject({ components: 1, colorSpace: "gray" });
      const ref = await sharpRgb(jpeg); // sharp expands gray to 3 channels
      for (const scale of SCALES) {
        expectMatches(jpeg, ref, scale, { full: FULL });
        const out = decodeJpeg(jpegModule, jpeg, scale);
        for (let i = 0; i < out.width * out.height; i += 7) {
          expect(out.data[i * 3]).toBe(out.data[i * 3 + 1]);
          expect(out.data[i * 3]).toBe(out.data[i * 3 + 2]);
        }
      }
    });
  }
});

describe("hand-encoded samplings and restart intervals", () => {
  const width = 77;
  const height = 61;
  const rgb = syntheticPhoto(width, height, 11);
  const planes = yccPlanes(rgb, width, height);
  const cases: { name: string; sampling: [number, number][] }[] = [
    { name: "4:4:4", sampling: [[1, 1], [1, 1], [1, 1]] },
    { name: "4:2:2", sampling: [[2, 1], [1, 1], [1, 1]] },
    { name: "4:4:0", sampling: [[1, 2], [1, 1], [1, 1]] },
    { name: "4:2:0", sampling: [[2, 2], [1, 1], [1, 1]] },
    { name: "4:1:1", sampling: [[4, 1], [1, 1], [1, 1]] },
    { name: "Y 2x2, Cb 2x1, Cr 1x2", sampling: [[2, 2], [2, 1], [1, 2]] },
    { name: "Y 1x1, chroma 2x2 (chroma denser than luma)", sampling: [[1, 1], [2, 2], [2, 2]] },
    { name: "Y 3x1, chroma 1x1", sampling: [[3, 1], [1, 1], [1, 1]] },
    { name: "Y 4x2, chroma 1x1 (10 blocks per MCU)", sampling: [[4, 2], [1, 1], [1, 1]] },
  ];
  for (const { name, sampling } of cases) {
    for (const restartInterval of [0, 1, 3]) {
      it(`${name}${restartInterval ? `, restart every ${restartInterval} MCU` : ""}`, async () => {
        const jpeg = encodeBaseline({ width, height, planes, sampling, restartInterval, jfif: true });
        const header = readJpegHeader(jpeg);
        expect(header.sampling.map((c) => [c.h, c.v])).toEqual(sampling);
        const ref = await sharpRgb(jpeg);
        const subsampled = sampling.some(([h, v]) => h !== sampling[0][0] || v !== sampling[0][1]);
        const hmax = Math.max(...sampling.map(([h]) => h));
        const vmax = Math.max(...sampling.map(([, v]) => v));
        const replicated = sampling.some(([h, v]) => hmax / h > 2 || vmax / v > 2);
        for (const scale of SCALES) expectMatches(jpeg, ref, scale, { full: FULL, subsampled, replicated });
      });
    }
  }

  for (const restartInterval of [0, 1, 5]) {
    for (const [name, sampling] of [["4:2:0", [[2, 2], [1, 1], [1, 1]]], ["4:2:2", [[2, 1], [1, 1], [1, 1]]]] as [string, [number, number][]][]) {
      it(`progressive ${name} (spectral selection, DC successive approximation)${restartInterval ? `, restart every ${restartInterval}` : ""}`, async () => {
        const jpeg = encodeProgressive({ width, height, planes, sampling, restartInterval });
        expect(readJpegHeader(jpeg)).toMatchObject({ progressive: true, streamable: false });
        const ref = await sharpRgb(jpeg);
        for (const scale of SCALES) expectMatches(jpeg, ref, scale, { full: FULL, subsampled: true });
      });
      it(`progressive ${name} with AC successive approximation${restartInterval ? `, restart every ${restartInterval}` : ""}`, async () => {
        const jpeg = encodeProgressive({ width, height, planes, sampling, restartInterval, acRefine: true, quant: 4 });
        const ref = await sharpRgb(jpeg);
        for (const scale of SCALES) expectMatches(jpeg, ref, scale, { full: FULL, subsampled: true });
        // Against the encoder's input too, so a mistake shared by encoder and both decoders cannot pass.
        expect(psnr(luma(decodeJpeg(jpegModule, jpeg, 1).data), luma(new Uint8Array(rgb)))).toBeGreaterThan(35);
      });
      it(`sequential with one scan per component ${name}${restartInterval ? `, restart every ${restartInterval}` : ""}`, async () => {
        const jpeg = encodeBaseline({ width, height, planes, sampling, restartInterval, separateScans: true });
        expect(readJpegHeader(jpeg)).toMatchObject({ progressive: false, streamable: false });
        const ref = await sharpRgb(jpeg);
        for (const scale of SCALES) expectMatches(jpeg, ref, scale, { full: FULL, subsampled: true });
      });
    }
  }

  it("progressive and multi-scan encodings of the same coefficients decode bit-identically to baseline at every scale", () => {
    // The hand encoder quantizes identically for every mode, so any difference is a decoder bug in the
    // coefficient store, the kept-coefficient masks, refinement or restart handling.
    for (const sampling of [[[2, 2], [1, 1], [1, 1]], [[2, 1], [1, 1], [1, 1]], [[1, 1], [1, 1], [1, 1]]] as [number, number][][]) {
      for (const restartInterval of [0, 3]) {
        const base = { width, height, planes, sampling, restartInterval, quant: 3 };
        const baseline = encodeBaseline(base);
        const variants = [
          encodeBaseline({ ...base, separateScans: true }),
          encodeProgressive(base),
          encodeProgressive({ ...base, acRefine: true }),
        ];
        for (const scale of SCALES) {
          const expected = decodeJpeg(jpegModule, baseline, scale).data;
          for (const v of variants) expect(decodeJpeg(jpegModule, v, scale).data).toEqual(expected);
        }
      }
    }
  });

  it("the restart fixtures really contain RST markers", () => {
    const jpeg = encodeBaseline({ width, height, planes, sampling: [[2, 2], [1, 1], [1, 1]], restartInterval: 2 });
    let rst = 0;
    for (let i = 0; i + 1 < jpeg.length; i++) if (jpeg[i] === 0xff && jpeg[i + 1] >= 0xd0 && jpeg[i + 1] <= 0xd7) rst++;
    expect(rst).toBe(Math.ceil(20 / 2) - 1); // 5 x 4 MCUs
  });

  it("Adobe transform 0 marks RGB components", async () => {
    const rgbPlanes = [0, 1, 2].map((c) => Uint8Array.from({ length: width * height }, (_, i) => rgb[i * 3 + c]));
    const jpeg = encodeBaseline({ width, height, planes: rgbPlanes, sampling: [[1, 1], [1, 1], [1, 1]], adobeTransform: 0, ids: [0x52, 0x47, 0x42] });
    expect(readJpegHeader(jpeg).colorSpace).toBe("rgb");
    const ref = await sharpRgb(jpeg);
    for (const scale of SCALES) expectMatches(jpeg, ref, scale, { full: FULL });
    expect(psnr(decodeJpeg(jpegModule, jpeg, 1).data, rgb)).toBeGreaterThan(40);
  });
});

describe("CMYK and YCCK", () => {
  const width = 64;
  const height = 48;
  const rgb = syntheticPhoto(width, height, 5);

  it("sharp's Adobe (inverted) CMYK converts with the naive formula at every scale", async () => {
    const jpeg = new Uint8Array(await sharp(rgb, { raw: { width, height, channels: 3 } }).toColourspace("cmyk").jpeg({ quality: 95 }).toBuffer());
    const header = readJpegHeader(jpeg);
    expect(header).toMatchObject({ components: 4, colorSpace: "cmyk", adobe: true });
    const ink = await sharp(jpeg).pipelineColourspace("cmyk").toColourspace("cmyk").raw().toBuffer();
    const ref = { data: cmykInkToRgb(ink), width, height };
    for (const scale of SCALES) expectMatches(jpeg, ref, scale, { full: FULL });
  });

  it("YCCK (Adobe transform 2) converts through inverted CMY", async () => {
    // Ink amounts from the RGB image: C = 255 - R etc., K = a gradient.
    const ink = new Uint8Array(width * height * 4);
    for (let i = 0; i < width * height; i++) {
      for (let c = 0; c < 3; c++) ink[i * 4 + c] = 255 - rgb[i * 3 + c];
      ink[i * 4 + 3] = (i % width) * 2;
    }
    // Adobe stores inverted CMYK; YCCK is YCbCr of (255 - stored C, M, Y) = of the ink, K stored inverted.
    const planes: Uint8Array[] = [new Uint8Array(0), new Uint8Array(0), new Uint8Array(0), new Uint8Array(width * height)];
    const inkRgb = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) for (let c = 0; c < 3; c++) inkRgb[i * 3 + c] = ink[i * 4 + c];
    const ycc = yccPlanes(inkRgb, width, height);
    planes[0] = ycc[0];
    planes[1] = ycc[1];
    planes[2] = ycc[2];
    for (let i = 0; i < width * height; i++) planes[3][i] = 255 - ink[i * 4 + 3];
    const jpeg = encodeBaseline({ width, height, planes, sampling: [[2, 2], [1, 1], [1, 1], [2, 2]], adobeTransform: 2 });
    expect(readJpegHeader(jpeg).colorSpace).toBe("ycck");
    const expected = cmykInkToRgb(ink);
    expect(psnr(decodeJpeg(jpegModule, jpeg, 1).data, expected)).toBeGreaterThan(30);
    // Independent check: libjpeg's YCCK→CMYK plus libvips' Adobe inversion, converted the same naive way.
    const sharpInk = await sharp(jpeg).pipelineColourspace("cmyk").toColourspace("cmyk").raw().toBuffer();
    const ref = { data: cmykInkToRgb(sharpInk), width, height };
    for (const scale of SCALES) expectMatches(jpeg, ref, scale, { full: FULL, subsampled: true });
  });

  it("CMYK without an Adobe marker is read as ink amounts", async () => {
    const planes = [0, 1, 2, 3].map((c) => Uint8Array.from({ length: width * height }, (_, i) => (c === 3 ? 40 : 255 - rgb[i * 3 + c])));
    const jpeg = encodeBaseline({ width, height, planes, sampling: [[1, 1], [1, 1], [1, 1], [1, 1]] });
    expect(readJpegHeader(jpeg)).toMatchObject({ colorSpace: "cmyk", adobe: false });
    const ink = new Uint8Array(width * height * 4);
    for (let i = 0; i < width * height; i++) for (let c = 0; c < 4; c++) ink[i * 4 + c] = planes[c][i];
    expect(psnr(decodeJpeg(jpegModule, jpeg, 1).data, cmykInkToRgb(ink))).toBeGreaterThan(40);
  });
});

describe("EXIF orientation and dimensions", () => {
  it("reads orientation 1-8 without applying it", async () => {
    const raw = syntheticPhoto(24, 16);
    for (let orientation = 1; orientation <= 8; orientation++) {
      const jpeg = new Uint8Array(await sharp(raw, { raw: { width: 24, height: 16, channels: 3 } }).jpeg().withMetadata({ orientation }).toBuffer());
      expect(readJpegHeader(jpeg).orientation).toBe(orientation);
      const out = decodeJpeg(jpegModule, jpeg, 1);
      expect([out.width, out.height]).toEqual([24, 16]);
    }
  });

  for (const [width, height] of [[1, 1], [17, 9], [9, 17], [33, 1]]) {
    it(`${width}x${height} at every scale, baseline and progressive, 4:4:4 and 4:2:0`, async () => {
      // A crop of a larger image, so gradients are as steep as in a photo rather than squeezed into 9 pixels.
      const big = syntheticPhoto(256, 256);
      const raw = Buffer.alloc(width * height * 3);
      for (let y = 0; y < height; y++) big.copy(raw, y * width * 3, y * 256 * 3, (y * 256 + width) * 3);
      for (const progressive of [false, true]) {
        for (const chromaSubsampling of ["4:4:4", "4:2:0"]) {
          const jpeg = await sharpJpeg(raw, width, height, { quality: 92, progressive, chromaSubsampling });
          const ref = await sharpRgb(jpeg);
          const subsampled = chromaSubsampling === "4:2:0";
          for (const scale of SCALES) expectMatches(jpeg, ref, scale, { full: FULL, subsampled });
        }
      }
    });
  }

  it("4001x2999 (no MCU multiple) at 1/8 and 1/1, baseline and progressive", async () => {
    const width = 4001;
    const height = 2999;
    const raw = syntheticPhoto(width, height);
    for (const progressive of [false, true]) {
      const jpeg = await sharpJpeg(raw, width, height, { quality: 85, progressive, chromaSubsampling: "4:2:0" });
      const ref = await sharpRgb(jpeg);
      expectMatches(jpeg, ref, 8, { full: FULL, subsampled: true });
      expectMatches(jpeg, ref, 1, { full: FULL, subsampled: true });
    }
  });
});

describe("progressive shrink-on-load", () => {
  it("1/8 never reads AC scans: garbage in them changes 1/1 but not 1/8", async () => {
    const width = 96;
    const height = 64;
    const jpeg = await sharpJpeg(syntheticPhoto(width, height), width, height, { quality: 90, progressive: true });
    // Find the scans and scribble over the entropy data of every scan with Ss > 0.
    const damaged = jpeg.slice();
    let acScans = 0;
    let pos = 2;
    while (pos + 4 <= damaged.length) {
      if (damaged[pos] !== 0xff) { pos++; continue; }
      const m = damaged[pos + 1];
      if (m === 0xd9) break;
      const len = (damaged[pos + 2] << 8) | damaged[pos + 3];
      if (m !== 0xda) { pos += 2 + len; continue; }
      const ns = damaged[pos + 4];
      const ss = damaged[pos + 5 + 2 * ns];
      let p = pos + 2 + len;
      while (p + 1 < damaged.length && !(damaged[p] === 0xff && damaged[p + 1] !== 0 && (damaged[p + 1] < 0xd0 || damaged[p + 1] > 0xd7))) {
        if (ss > 0 && damaged[p] !== 0xff && damaged[p - 1] !== 0xff) damaged[p] = (damaged[p] * 7 + 13) & 0x7f;
        p++;
      }
      if (ss > 0) acScans++;
      pos = p;
    }
    expect(acScans).toBeGreaterThan(2);
    expect(decodeJpeg(jpegModule, damaged, 8).data).toEqual(decodeJpeg(jpegModule, jpeg, 8).data);
    let differs = false;
    try {
      differs = psnr(decodeJpeg(jpegModule, damaged, 1).data, decodeJpeg(jpegModule, jpeg, 1).data) < 40;
    } catch (e) {
      differs = e instanceof CodecError;
    }
    expect(differs).toBe(true);
  });
});

describe("memory planning", () => {
  it("estimateJpegDecodeBytes covers the instance's real memory and the coefficient store only when needed", async () => {
    const width = 1200;
    const height = 800;
    const raw = syntheticPhoto(width, height);
    for (const progressive of [false, true]) {
      const jpeg = await sharpJpeg(raw, width, height, { quality: 85, progressive, chromaSubsampling: "4:2:0" });
      const header = readJpegHeader(jpeg);
      expect(header.streamable).toBe(!progressive);
      for (const scale of SCALES) {
        const estimate = estimateJpegDecodeBytes(header, scale);
        const memory = measureDecodeMemory(jpeg, scale);
        expect(estimate, `1/${scale} ${progressive}`).toBeGreaterThanOrEqual(memory);
        expect(estimate, `1/${scale} ${progressive}`).toBeLessThan(memory * 1.25 + 256 * 1024);
      }
    }
    // A progressive 1/8 decode keeps one coefficient per block: far below a full decode.
    const progressive = readJpegHeader(await sharpJpeg(raw, width, height, { progressive: true }));
    expect(estimateJpegDecodeBytes(progressive, 8)).toBeLessThan(estimateJpegDecodeBytes(progressive, 1) / 8);
  });
});

/** Runs the kernel directly to read its final memory size. */
function measureDecodeMemory(jpeg: Uint8Array, scale: number): number {
  const instance = new WebAssembly.Instance(jpegModule, { env: { abort: () => { throw new Error("abort"); } } });
  const k = instance.exports as unknown as { memory: WebAssembly.Memory; alloc(n: number): number; decode(...a: number[]): number };
  const ptr = k.alloc(jpeg.length);
  new Uint8Array(k.memory.buffer, ptr, jpeg.length).set(jpeg);
  expect(k.decode(ptr, jpeg.length, scale, 1, 1e9)).toBe(0);
  return k.memory.buffer.byteLength;
}

describe("unsupported and hostile streams", () => {
  const width = 48;
  const height = 32;
  const rgb = syntheticPhoto(width, height);
  const planes = yccPlanes(rgb, width, height);
  const good = encodeBaseline({ width, height, planes, sampling: [[2, 2], [1, 1], [1, 1]], restartInterval: 2 });
  const sofAt = findMarker(good, 0xc0);

  function patched(at: number, bytes: number[]): Uint8Array {
    const out = good.slice();
    out.set(bytes, at);
    return out;
  }

  it("not a JPEG", () => {
    expectCodecError(() => decodeJpeg(jpegModule, new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0]), 1), "corrupt", /missing SOI/);
    expectCodecError(() => decodeJpeg(jpegModule, new Uint8Array(0), 1), "corrupt", /missing SOI/);
  });

  it("arithmetic, lossless, hierarchical and 12-bit frames are unsupported (engine falls back to mozjpeg)", () => {
    for (const [marker, reason] of [[0xc9, /arithmetic/], [0xca, /arithmetic/], [0xc3, /lossless/], [0xc5, /hierarchical/]] as const) {
      expectCodecError(() => decodeJpeg(jpegModule, patched(sofAt + 1, [marker]), 1), "unsupported", reason);
      expect(readJpegHeader(patched(sofAt + 1, [marker])).supported).toBe(false);
    }
    expectCodecError(() => decodeJpeg(jpegModule, patched(sofAt + 4, [12]), 1), "unsupported", /12-bit/);
  });

  it("zero width, DNL height and pixel limits", () => {
    expectCodecError(() => decodeJpeg(jpegModule, patched(sofAt + 7, [0, 0]), 1), "corrupt", /width is 0/);
    expectCodecError(() => decodeJpeg(jpegModule, patched(sofAt + 5, [0, 0]), 1), "unsupported", /DNL/);
    expectCodecError(() => decodeJpeg(jpegModule, good, 8, { maxPixels: 1000 }), "limit", /48x32 exceeds/);
    expectCodecError(() => decodeJpeg(jpegModule, good, 1, { maxMemoryBytes: 100_000 }), "limit", /byte budget/);
    expect(decodeJpeg(jpegModule, good, 1, { maxMemoryBytes: estimateJpegDecodeBytes(readJpegHeader(good), 1) }).width).toBe(48);
    // 65535 x 65535 is the largest a SOF can say; the default 100 MP limit stops it before any allocation.
    expectCodecError(() => decodeJpeg(jpegModule, patched(sofAt + 5, [0xff, 0xff, 0xff, 0xff]), 8), "limit", /65535x65535/);
  });

  it("sampling factors outside 1..4 or not dividing the maximum", () => {
    const y = sofAt + 11; // first component's sampling byte
    expectCodecError(() => decodeJpeg(jpegModule, patched(y, [0x50]), 1), "corrupt", /sampling factor/);
    expectCodecError(() => decodeJpeg(jpegModule, patched(y, [0x02]), 1), "corrupt", /sampling factor/);
    // Y 2x2 with Cb 3x1: the maximum horizontal factor 3 is not a multiple of 2.
    expectCodecError(() => decodeJpeg(jpegModule, patched(y + 3, [0x31]), 1), "unsupported", /do not divide/);
    expect(readJpegHeader(patched(y + 3, [0x31])).supported).toBe(false);
  });

  it("more than 10 blocks in an interleaved MCU", () => {
    const jpeg = encodeBaseline({ width, height, planes, sampling: [[4, 2], [2, 1], [1, 2]] });
    expectCodecError(() => decodeJpeg(jpegModule, jpeg, 1), "corrupt", /more than 10 blocks/);
  });

  it("missing SOF, DQT, DHT or SOS", () => {
    expectCodecError(() => decodeJpeg(jpegModule, withoutSegment(good, sofAt), 1), "corrupt", /missing SOF/);
    expectCodecError(() => decodeJpeg(jpegModule, withoutSegment(good, findMarker(good, 0xdb)), 1), "corrupt", /undefined quantization table/);
    expectCodecError(() => decodeJpeg(jpegModule, withoutSegment(good, findMarker(good, 0xc4)), 1), "corrupt", /undefined DC Huffman/);
    const sosAt = findMarker(good, 0xda);
    const noScan = new Uint8Array([...good.subarray(0, sosAt), 0xff, 0xd9]);
    expectCodecError(() => decodeJpeg(jpegModule, noScan, 1), "corrupt", /missing SOS/);
  });

  it("a scan referencing a Huffman table that was never defined", () => {
    const sosAt = findMarker(good, 0xda);
    // First scan component: DC table 0, AC table 3.
    expectCodecError(() => decodeJpeg(jpegModule, patched(sosAt + 6, [0x03]), 1), "corrupt", /undefined AC Huffman/);
  });

  it("a Huffman table whose code lengths overflow", () => {
    const dhtAt = findMarker(good, 0xc4);
    // DC counts: 12 codes of length 3 cannot exist (only 8 do, and the all-ones code is forbidden).
    expectCodecError(() => decodeJpeg(jpegModule, patched(dhtAt + 5, [0, 0, 12, 0]), 1), "corrupt", /Huffman table/);
  });

  it("entropy data with an impossible Huffman code", () => {
    const sosAt = findMarker(good, 0xda);
    const dataAt = sosAt + 2 + ((good[sosAt + 2] << 8) | good[sosAt + 3]);
    // All-ones bits never decode with these tables (the all-ones code is reserved). 0xFF must be stuffed.
    const bad = new Uint8Array([...good.subarray(0, dataAt), 0xff, 0x00, 0xff, 0x00, 0xff, 0x00, ...good.subarray(dataAt)]);
    expectCodecError(() => decodeJpeg(jpegModule, bad, 1), "corrupt", /invalid Huffman code/);
  });

  it("truncated scan data decodes what is there and fills the rest flat (libjpeg's policy)", async () => {
    const bigW = 128;
    const bigH = 128;
    const jpeg = await sharpJpeg(syntheticPhoto(bigW, bigH), bigW, bigH, { quality: 90, chromaSubsampling: "4:4:4" });
    const ref = await sharpRgb(jpeg);
    const cut = jpeg.subarray(0, Math.floor(jpeg.length * 0.6));
    const out = decodeJpeg(jpegModule, cut, 1);
    expect([out.width, out.height]).toEqual([bigW, bigH]);
    // The first 16 rows come from intact data.
    expect(psnr(out.data.subarray(0, bigW * 16 * 3), ref.data.subarray(0, bigW * 16 * 3))).toBeGreaterThan(45);
    // Truncated inside the headers is an error.
    expectCodecError(() => decodeJpeg(jpegModule, jpeg.subarray(0, 30), 1), "corrupt", /missing SOF|truncated/);
    // Progressive truncated after the first scans still decodes (DC-only image).
    const prog = await sharpJpeg(syntheticPhoto(bigW, bigH), bigW, bigH, { quality: 90, progressive: true });
    const half = decodeJpeg(jpegModule, prog.subarray(0, Math.floor(prog.length * 0.5)), 8);
    expect(psnr(half.data, boxDownscale(ref.data, bigW, bigH, 3, 8))).toBeGreaterThan(25);
  });

  it("endless RST markers and garbage do not hang", { timeout: 20_000 }, () => {
    const sosAt = findMarker(good, 0xda);
    const dataAt = sosAt + 2 + ((good[sosAt + 2] << 8) | good[sosAt + 3]);
    const rsts = new Uint8Array(2_000_000);
    for (let i = 0; i < rsts.length; i += 2) { rsts[i] = 0xff; rsts[i + 1] = 0xd0 + ((i >> 1) & 7); }
    const flood = new Uint8Array([...good.subarray(0, dataAt), ...rsts, 0xff, 0xd9]);
    const t = performance.now();
    const out = decodeJpeg(jpegModule, flood, 1);
    expect([out.width, out.height]).toEqual([width, height]);
    expect(performance.now() - t).toBeLessThan(5_000);
  });

  it("an APP1 segment holding another JPEG (an EXIF thumbnail) and 0xFF fill bytes are skipped", async () => {
    const thumb = encodeBaseline({ width: 8, height: 8, planes: planes.map((p) => p.subarray(0, 64)), sampling: [[1, 1], [1, 1], [1, 1]] });
    const payload = [...new TextEncoder().encode("Exif\0\0"), ...thumb];
    const app1 = [0xff, 0xe1, (payload.length + 2) >> 8, (payload.length + 2) & 255, ...payload];
    const withThumb = new Uint8Array([...good.subarray(0, 2), ...app1, 0xff, 0xff, 0xff, ...good.subarray(2)]);
    const header = readJpegHeader(withThumb);
    expect([header.width, header.height]).toEqual([width, height]);
    expect(decodeJpeg(jpegModule, withThumb, 1).data).toEqual(decodeJpeg(jpegModule, good, 1).data);
  });

  it("a flood of scans is cut off at 256", { timeout: 20_000 }, () => {
    const prog = encodeProgressive({ width, height, planes, sampling: [[2, 2], [1, 1], [1, 1]] });
    // Repeat the final DC refinement scan (SOS header + 1 bit per block) 300 times.
    let lastSos = -1;
    for (let i = 0; i + 1 < prog.length; i++) if (prog[i] === 0xff && prog[i + 1] === 0xda) lastSos = i;
    const scan = prog.subarray(lastSos, prog.length - 2);
    const flood = new Uint8Array(lastSos + scan.length * 300 + 2);
    flood.set(prog.subarray(0, lastSos), 0);
    for (let i = 0; i < 300; i++) flood.set(scan, lastSos + i * scan.length);
    flood.set([0xff, 0xd9], flood.length - 2);
    expectCodecError(() => decodeJpeg(jpegModule, flood, 1), "corrupt", /more than 256 scans/);
  });

  it("random corruption never escapes as anything but a CodecError", { timeout: 60_000 }, async () => {
    const base = await sharpJpeg(syntheticPhoto(64, 48), 64, 48, { quality: 80, progressive: true });
    let seed = 99;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 8) / 16777216;
    for (let iter = 0; iter < 300; iter++) {
      const bytes = (iter % 2 ? good : base).slice();
      const flips = 1 + Math.floor(rnd() * 8);
      for (let f = 0; f < flips; f++) bytes[Math.floor(rnd() * bytes.length)] = Math.floor(rnd() * 256);
      for (const scale of SCALES) {
        try {
          const out = decodeJpeg(jpegModule, bytes, scale);
          expect(out.data.length).toBe(out.width * out.height * 3);
        } catch (e) {
          expect(e, String(e)).toBeInstanceOf(CodecError);
        }
      }
    }
  });
});
