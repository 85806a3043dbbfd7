import { beforeAll, describe, expect, it } from "vitest";
import sharp from "sharp";
import { renderTargets, type EngineModules, type RenderTarget } from "../../wasm/src/engine.ts";
import { loadEngineModules } from "../../wasm/src/modules.node.ts";
import { parseIccProfile, evalCurve, readCurve, MAX_ICC_PROFILE_BYTES } from "../../wasm/src/icc/profile.ts";
import { rgbToSrgb, compositeLut, cmykToSrgb } from "../../wasm/src/icc/to-srgb.ts";
import { embedIccInPng, heifIccProfile, jpegIccProfile, pngIccProfile } from "../../wasm/src/icc/containers.ts";
import { sourceColour } from "../../wasm/src/icc/source-colour.ts";
import { CodecError } from "../../wasm/src/errors.ts";
import { H, W, picture, probe } from "./fixtures.ts";
import { ADOBE_RGB, PROPHOTO_RGB, deltaE, matrixTrcProfile, patchChart } from "./icc-fixtures.ts";

let modules: EngineModules;
beforeAll(async () => {
  modules = await loadEngineModules({ kernels: true });
});

const target = (t: Partial<RenderTarget> & Pick<RenderTarget, "width" | "height" | "format">): RenderTarget => ({ quality: 90, metadata: "none", ...t });

async function render(input: Uint8Array, t: RenderTarget) {
  const [out] = await renderTargets(input, await probe(input), [t], { modules, maxPixels: 1e8 });
  return out;
}

/** Raw RGB of an image as sharp decodes it, converted to sRGB where it carries a profile (sharp's default). */
const srgbPixels = (img: Uint8Array) => sharp(img).removeAlpha().raw().toBuffer();
/** Raw RGB as stored, with no colour conversion. */
const storedPixels = (img: Uint8Array) => sharp(img, { ignoreIcc: true }).removeAlpha().raw().toBuffer();

const chart = patchChart();
const rawChart = () => sharp(chart.data, { raw: { width: chart.width, height: chart.height, channels: 3 } });

/** The chart's pixels, read as if in `profile`'s space: a PNG of them with the profile attached (not converted). */
async function chartTaggedPng(profile: Uint8Array): Promise<Uint8Array> {
  return embedIccInPng(await rawChart().png().toBuffer(), profile);
}

async function p3Profile(): Promise<Uint8Array> {
  const tagged = await rawChart().withIccProfile("p3").png().toBuffer();
  return new Uint8Array((await sharp(tagged).metadata()).icc!); // a copy: Buffer#slice would share it
}

describe("ICC profiles are parsed", () => {
  it("reads a matrix/TRC profile's colorants and parametric curves (sharp's Display P3)", async () => {
    const p = parseIccProfile(await p3Profile());
    expect(p.colourSpace).toBe("RGB");
    expect(p.matrix!.red[0]).toBeCloseTo(0.515, 2); // P3's red colorant, D50-adapted
    expect(p.trc![0].kind).toBe("parametric");
    expect(evalCurve(p.trc![0], 0.5)).toBeCloseTo(0.214, 3); // the sRGB curve
  });

  it("reads curv gamma and table curves, and every para type", () => {
    const curv = (entries: number[]) => {
      const b = new Uint8Array(12 + 2 * entries.length);
      b.set([0x63, 0x75, 0x72, 0x76]);
      const v = new DataView(b.buffer);
      v.setUint32(8, entries.length);
      entries.forEach((e, i) => v.setUint16(12 + 2 * i, e));
      return b;
    };
    expect(evalCurve(readCurve(curv([]))!.curve, 0.3)).toBeCloseTo(0.3, 6);
    expect(evalCurve(readCurve(curv([Math.round(2.2 * 256)])).curve, 0.5)).toBeCloseTo(0.5 ** 2.2, 3);
    expect(evalCurve(readCurve(curv([0, 65535])).curve, 0.25)).toBeCloseTo(0.25, 4);
    const para = (type: number, params: number[]) => {
      const b = new Uint8Array(12 + 4 * params.length);
      b.set([0x70, 0x61, 0x72, 0x61]);
      const v = new DataView(b.buffer);
      v.setUint16(8, type);
      params.forEach((p, i) => v.setInt32(12 + 4 * i, Math.round(p * 65536)));
      return readCurve(b).curve;
    };
    expect(evalCurve(para(0, [2]), 0.5)).toBeCloseTo(0.25, 4);
    expect(evalCurve(para(1, [1, 2, -0.5]), 0.2)).toBe(0); // below -b/a
    expect(evalCurve(para(2, [1, 1, 0, 0.1]), 0.5)).toBeCloseTo(0.6, 4);
    const srgb = [2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045];
    expect(evalCurve(para(3, srgb), 0.02)).toBeCloseTo(0.02 / 12.92, 4);
    expect(evalCurve(para(4, [...srgb, 0.01, 0.02]), 0.02)).toBeCloseTo(0.02 / 12.92 + 0.02, 4);
  });

  it("reads a CMYK profile's lut16 A2B (sharp's built-in CMYK profile)", async () => {
    const cmyk = await rawChart().withIccProfile("cmyk").jpeg().toBuffer();
    const p = parseIccProfile((await sharp(cmyk).metadata()).icc!);
    expect(p.colourSpace).toBe("CMYK");
    expect(p.a2b!.inputs).toBe(4);
    expect(p.a2b!.grid.length).toBe(4);
  });

  it("refuses hostile and truncated profiles as corrupt, without reading past them", async () => {
    const good = await p3Profile();
    const copy = (edit: (b: Uint8Array, v: DataView) => void) => {
      const b = good.slice();
      edit(b, new DataView(b.buffer));
      return b;
    };
    const cases: Array<[string, Uint8Array]> = [
      ["short", good.subarray(0, 100)],
      ["truncated", good.subarray(0, good.length - 40)],
      ["no acsp", copy((b) => { b[36] = 0; })],
      ["tag outside", copy((_, v) => v.setUint32(136, 0x7fffffff))],
      ["huge tag count", copy((_, v) => v.setUint32(128, 0xffffffff))],
      ["curve claiming 2^31 entries", copy((b, v) => {
        for (let i = 0; i < v.getUint32(128); i++) {
          const at = 132 + 12 * i;
          if (String.fromCharCode(...b.subarray(at, at + 4)) !== "rTRC") continue;
          const off = v.getUint32(at + 4);
          b.set([0x63, 0x75, 0x72, 0x76], off);
          v.setUint32(off + 8, 0x80000000);
        }
      })],
      ["unknown curve type", copy((b, v) => {
        for (let i = 0; i < v.getUint32(128); i++) {
          const at = 132 + 12 * i;
          if (String.fromCharCode(...b.subarray(at, at + 4)) === "gTRC") b.set([0x78, 0x78, 0x78, 0x78], v.getUint32(at + 4));
        }
      })],
    ];
    for (const [name, bytes] of cases) {
      expect(() => parseIccProfile(bytes), name).toThrow(CodecError);
    }
    expect(() => parseIccProfile(new Uint8Array(MAX_ICC_PROFILE_BYTES + 1))).toThrow(/limit/);
  });

  it("ignores a broken embedded profile: the image renders as untagged", async () => {
    const broken = (await p3Profile()).slice(0, 300);
    const png = await chartTaggedPng(broken);
    const colour = sourceColour(pngIccProfile(chunkBody(png, "iCCP")));
    expect(colour.ignored).toMatch(/ICC profile/);
    const out = await render(png, target({ width: chart.width, height: chart.height, format: "png" }));
    expect(deltaE(await storedPixels(out.bytes), chart.data).max).toBe(0);
  });
});

/** The body of the first chunk of `type` in a PNG. */
function chunkBody(png: Uint8Array, type: string): Uint8Array {
  const v = new DataView(png.buffer, png.byteOffset, png.byteLength);
  for (let p = 8; p + 8 <= png.length;) {
    const len = v.getUint32(p);
    if (String.fromCharCode(...png.subarray(p + 4, p + 8)) === type) return png.subarray(p + 8, p + 8 + len);
    p += 12 + len;
  }
  throw new Error(`no ${type}`);
}

// Wide-gamut pixels converted to sRGB against sharp (libvips + lcms 2, relative colorimetric): the patch chart's
// values read as Display P3 / Adobe RGB / ProPhoto, saturated corners (clipped in sRGB) included.
describe("wide-gamut RGB is converted to sRGB like sharp converts it", () => {
  const profiles = {
    "Display P3": p3Profile,
    "Adobe RGB (1998)": async () => matrixTrcProfile(ADOBE_RGB),
    "ProPhoto RGB": async () => matrixTrcProfile(PROPHOTO_RGB),
  };
  for (const [name, make] of Object.entries(profiles)) {
    it(`${name} (PNG iCCP) within mean ΔE76 0.5, max 2`, async () => {
      const png = await chartTaggedPng(await make());
      const reference = await srgbPixels(png);
      expect(deltaE(reference, chart.data).mean, "the profile changes the colours").toBeGreaterThan(2);
      const out = await render(png, target({ width: chart.width, height: chart.height, format: "png" }));
      expect((await sharp(out.bytes).metadata()).icc, "a converted output carries no profile").toBeUndefined();
      const d = deltaE(await storedPixels(out.bytes), reference);
      console.log(`${name}: mean ΔE76 ${d.mean.toFixed(3)}, max ${d.max.toFixed(2)}`);
      expect(d.mean).toBeLessThan(0.5);
      expect(d.max).toBeLessThan(2);
    });
  }
});

describe("every container's profile is found", () => {
  it("a Display P3 JPEG (APP2) is converted through our JPEG decoder, full size and resized, like sharp", async () => {
    const jpeg = await rawChart().withIccProfile("p3").jpeg({ quality: 95 }).toBuffer();
    const full = await render(jpeg, target({ width: chart.width, height: chart.height, format: "png" }));
    expect(deltaE(await storedPixels(full.bytes), await srgbPixels(jpeg)).mean).toBeLessThan(0.5);
    // Resized, on the photo-like picture (the chart's hard patch edges measure the resamplers, not the colour).
    const photo = await sharp(picture(), { raw: { width: W, height: H, channels: 4 } }).removeAlpha().withIccProfile("p3").jpeg({ quality: 95 }).toBuffer();
    const half = target({ width: W / 2, height: H / 2, format: "png" });
    const reference = await sharp(photo).resize(W / 2, H / 2, { kernel: "lanczos3" }).removeAlpha().raw().toBuffer();
    const d = deltaE(await storedPixels((await render(photo, half)).bytes), reference);
    // What the two resamplers differ by anyway, on the same picture untagged.
    const plain = await sharp(picture(), { raw: { width: W, height: H, channels: 4 } }).removeAlpha().jpeg({ quality: 95 }).toBuffer();
    const resamplers = deltaE(await storedPixels((await render(plain, half)).bytes), await sharp(plain).resize(W / 2, H / 2, { kernel: "lanczos3" }).raw().toBuffer());
    console.log(`P3 JPEG resized: mean ΔE76 ${d.mean.toFixed(3)} (untagged: ${resamplers.mean.toFixed(3)})`);
    expect(d.mean).toBeLessThan(resamplers.mean + 0.3);
  });

  it("a Display P3 WebP (ICCP) is converted like sharp", async () => {
    const webp = await rawChart().withIccProfile("p3").webp({ lossless: true }).toBuffer();
    const out = await render(webp, target({ width: chart.width, height: chart.height, format: "png" }));
    expect(deltaE(await storedPixels(out.bytes), await srgbPixels(webp)).mean).toBeLessThan(0.5);
  });

  it("a JPEG profile split over several APP2 segments is reassembled by sequence number, in any order", () => {
    const profile = Uint8Array.from({ length: 150_000 }, (_, i) => i % 251);
    const segment = (seq: number, count: number, data: Uint8Array) => {
      const s = new Uint8Array(14 + data.length);
      for (let i = 0; i < 12; i++) s[i] = "ICC_PROFILE\0".charCodeAt(i);
      [s[12], s[13]] = [seq, count];
      s.set(data, 14);
      return s;
    };
    const parts = [0, 1, 2].map((i) => segment(i + 1, 3, profile.subarray(i * 65519, (i + 1) * 65519)));
    expect(jpegIccProfile([parts[2], parts[0], parts[1]])).toEqual(profile);
    expect(jpegIccProfile([parts[0], parts[1]]), "a missing chunk").toBeUndefined();
    expect(jpegIccProfile([parts[0], parts[0], parts[1]]), "a repeated chunk").toBeUndefined();
  });

  it("a PNG iCCP that inflates past the profile size cap (a zlib bomb) is ignored", async () => {
    const { zlibSync } = await import("fflate");
    const bomb = zlibSync(new Uint8Array(MAX_ICC_PROFILE_BYTES + 1024));
    const body = new Uint8Array(4 + bomb.length);
    body.set([0x62, 0x6f, 0x6d, 0x62, 0, 0].slice(0, 4));
    const withName = new Uint8Array(6 + bomb.length);
    withName.set([0x62, 0x6f, 0x6d, 0x62, 0, 0]);
    withName.set(bomb, 6);
    expect(pngIccProfile(withName)).toBeUndefined();
    expect(pngIccProfile(withName.subarray(0, 40)), "truncated zlib data").toBeUndefined();
  });

  it("an AVIF's colr prof box is read", async () => {
    const avif = await rawChart().withIccProfile("p3").avif({ quality: 80 }).toBuffer();
    const icc = heifIccProfile(avif);
    expect(icc && parseIccProfile(icc).description).toMatch(/P3/);
  });
});

describe("sRGB and untagged sources are not converted", () => {
  it("an sRGB profile is recognised as sRGB: no conversion is built, and the output equals the untagged one", async () => {
    const srgbPng = await rawChart().withIccProfile("srgb").png().toBuffer();
    const icc = (await sharp(srgbPng).metadata()).icc!;
    expect(rgbToSrgb(parseIccProfile(icc)), "no conversion for sRGB").toBeUndefined();
    const untagged = await rawChart().png().toBuffer();
    const t = target({ width: 96, height: 64, format: "png" });
    const [a, b] = [await render(srgbPng, t), await render(untagged, t)];
    expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes))).toBe(true);
  });

  it("an sRGB-tagged source plans and runs no conversion (the skip); a P3 one plans its tables", async () => {
    const photo = sharp(picture(1600, 1200), { raw: { width: 1600, height: 1200, channels: 4 } }).removeAlpha();
    const t = target({ width: 800, height: 600, format: "webp" });
    const planOf = async (input: Uint8Array) => {
      let peak = 0;
      await renderTargets(input, await probe(input), [t], { modules, maxPixels: 1e8 }, (r) => (peak = r.plan.peakBytes));
      return peak - input.length; // the file itself differs by its profile's bytes
    };
    const untagged = await planOf(await photo.clone().jpeg().toBuffer());
    expect(await planOf(await photo.clone().withIccProfile("srgb").jpeg().toBuffer())).toBe(untagged);
    const p3 = await photo.clone().withIccProfile("p3").jpeg().toBuffer();
    const conversion = rgbToSrgb(parseIccProfile(new Uint8Array((await sharp(p3).metadata()).icc!)))!;
    expect(await planOf(p3)).toBe(untagged + conversion.tableBytes);
    // The per-pixel cost, for the README (timed, not asserted: the machine is shared).
    const raster = { data: new Uint8Array(1_000_000 * 3).map((_, i) => i * 7), width: 1000, height: 1000, channels: 3 as const };
    const start = performance.now();
    conversion.convertInPlace(raster);
    console.log(`P3 → sRGB: ${(performance.now() - start).toFixed(1)} ms per megapixel, tables ${conversion.tableBytes} bytes`);
  });
});

describe("metadata=keep keeps the profile instead of converting", () => {
  for (const format of ["jpeg", "png", "webp"] as const) {
    it(`${format}: the output carries the source's Display P3 profile and its unconverted pixels`, async () => {
      const profile = await p3Profile();
      const png = await chartTaggedPng(profile);
      const out = await render(png, target({ width: chart.width, height: chart.height, format, metadata: "keep", quality: 100 }));
      const meta = await sharp(out.bytes).metadata();
      expect(new Uint8Array(meta.icc!)).toEqual(profile);
      // The stored values are the source's, unconverted: as close to them as the same format gets untagged.
      const untagged = await render(await rawChart().png().toBuffer(), target({ width: chart.width, height: chart.height, format, quality: 100 }));
      const baseline = deltaE(await storedPixels(untagged.bytes), chart.data).mean;
      expect(deltaE(await storedPixels(out.bytes), chart.data).mean).toBeLessThanOrEqual(baseline + 0.05);
    });
  }

  it("avif cannot carry the profile: it is converted to sRGB even with keep", async () => {
    const png = await chartTaggedPng(await p3Profile());
    const out = await render(png, target({ width: chart.width, height: chart.height, format: "avif", metadata: "keep", quality: 90 }));
    expect(deltaE(await srgbPixels(out.bytes), await srgbPixels(png)).mean).toBeLessThan(2);
  });

  it("a kept-profile target and a converted one of the same source do not share pixels through the cascade", async () => {
    const png = await chartTaggedPng(await p3Profile());
    const size = { width: chart.width, height: chart.height };
    const t = [target({ ...size, format: "png", metadata: "keep" }), target({ ...size, format: "png" }), target({ width: 48, height: 32, format: "png", metadata: "keep" })];
    const outs = await renderTargets(png, await probe(png), t, { modules, maxPixels: 1e8 });
    expect(deltaE(await storedPixels(outs[0].bytes), chart.data).max, "kept: the stored values").toBe(0);
    expect(deltaE(await storedPixels(outs[1].bytes), await srgbPixels(png)).mean, "converted").toBeLessThan(0.05);
    const small = await sharp(png, { ignoreIcc: true }).resize(48, 32, { kernel: "lanczos3" }).removeAlpha().raw().toBuffer();
    expect(deltaE(await storedPixels(outs[2].bytes), small).mean, "kept, cascaded from the kept one").toBeLessThan(1);
  });
});

describe("CMYK profiles", () => {
  it("CMYK ink values convert through the profile's A2B like sharp converts a CMYK JPEG", async () => {
    const cmykJpeg = await rawChart().withIccProfile("cmyk").jpeg({ quality: 100 }).toBuffer();
    const profile = parseIccProfile((await sharp(cmykJpeg).metadata()).icc!);
    // The stored ink values, unconverted (libvips reads Adobe's inverted CMYK as ink amounts).
    const inks = await sharp(cmykJpeg).pipelineColourspace("cmyk").toColourspace("cmyk").raw().toBuffer({ resolveWithObject: true });
    expect(inks.info.channels).toBe(4);
    const ours = new Uint8Array((inks.data.length / 4) * 3);
    cmykToSrgb(compositeLut(profile.a2b!), inks.data, ours);
    const d = deltaE(ours, await srgbPixels(cmykJpeg));
    console.log(`CMYK via A2B: mean ΔE76 ${d.mean.toFixed(3)}, max ${d.max.toFixed(2)}`);
    // lcms samples its own device link and interpolates K linearly between tetrahedral CMY cells: ~2.6 measured.
    expect(d.mean).toBeLessThan(3.5);
    const naive = new Uint8Array(ours.length);
    for (let i = 0, o = 0; i < inks.data.length; i += 4, o += 3) {
      for (let c = 0; c < 3; c++) naive[o + c] = ((255 - inks.data[i + c]) * (255 - inks.data[i + 3])) / 255;
    }
    expect(deltaE(naive, await srgbPixels(cmykJpeg)).mean, "the naive conversion is far worse").toBeGreaterThan(2 * d.mean);
  });
});

/** A v4-style RGB profile whose only transform is an A2B0 `lut` tag (mft1 or mAB), PCS XYZ. */
function lutProfile(a2b0: Uint8Array): Uint8Array {
  const size = 128 + 4 + 12 + a2b0.length;
  const out = new Uint8Array(size);
  const v = new DataView(out.buffer);
  const ascii = (s: string, at: number) => { for (let i = 0; i < 4; i++) out[at + i] = s.charCodeAt(i); };
  v.setUint32(0, size);
  out[8] = 4;
  ascii("mntr", 12); ascii("RGB ", 16); ascii("XYZ ", 20); ascii("acsp", 36);
  v.setUint32(128, 1);
  ascii("A2B0", 132);
  v.setUint32(136, 144);
  v.setUint32(140, a2b0.length);
  out.set(a2b0, 144);
  return out;
}

/** XYZ (u1Fixed15 in [0, 1]) of linear sRGB, for CLUT nodes that make a LUT profile equivalent to sRGB. */
function srgbNodeXyz(r: number, g: number, b: number): number[] {
  const lin = (v: number) => (v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
  const [R, G, B] = [lin(r), lin(g), lin(b)];
  const m = [0.4360747, 0.3850649, 0.1430804, 0.2225045, 0.7168786, 0.0606169, 0.0139322, 0.0971045, 0.7141733];
  return [0, 1, 2].map((i) => ((m[i * 3] * R + m[i * 3 + 1] * G + m[i * 3 + 2] * B) * 32768) / 65535);
}

describe("LUT profiles (lut8 and lutAtoB) are parsed and applied", () => {
  const grid = 17;
  const nodes = (encode: (v: number) => number[]) => {
    const out: number[] = [];
    for (let r = 0; r < grid; r++) for (let g = 0; g < grid; g++) for (let b = 0; b < grid; b++) out.push(...srgbNodeXyz(r / (grid - 1), g / (grid - 1), b / (grid - 1)).flatMap(encode));
    return out;
  };

  it("an mAB (lutAtoB) A2B0 describing sRGB converts to (almost) the same pixels", () => {
    // Layout: header (32), B curves (3 identity curv, 12 bytes each), CLUT (20 + grid³·3·2).
    const clut = nodes((v) => { const x = Math.round(v * 65535); return [x >> 8, x & 255]; });
    const tag = new Uint8Array(32 + 36 + 20 + clut.length);
    const v = new DataView(tag.buffer);
    tag.set([0x6d, 0x41, 0x42, 0x20]); // "mAB "
    [tag[8], tag[9]] = [3, 3];
    v.setUint32(12, 32); // B curves
    v.setUint32(24, 68); // CLUT
    for (let i = 0; i < 3; i++) tag.set([0x63, 0x75, 0x72, 0x76], 32 + 12 * i); // curv, 0 entries: identity
    tag.fill(grid, 68, 71);
    tag[68 + 16] = 2; // 16-bit precision
    tag.set(clut, 88);
    const profile = parseIccProfile(lutProfile(tag));
    expect(profile.a2b).toMatchObject({ inputs: 3, outputs: 3, grid: [grid, grid, grid], pcsEncoding: "xyz" });
    const conversion = rgbToSrgb(profile)!;
    const raster = { data: Uint8Array.from(chart.data), width: chart.width, height: chart.height, channels: 3 as const };
    conversion.convertInPlace(raster);
    expect(deltaE(raster.data, chart.data).mean).toBeLessThan(0.5);
  });

  it("an mft1 (lut8) A2B0 describing sRGB converts to (almost) the same pixels", () => {
    const tables = (n: number) => Array.from({ length: n }, () => Array.from({ length: 256 }, (_, i) => i)).flat();
    const clut = nodes((v) => [Math.round(v * 255)]);
    const tag = new Uint8Array(48 + 3 * 256 + clut.length + 3 * 256);
    tag.set([0x6d, 0x66, 0x74, 0x31]); // "mft1"
    [tag[8], tag[9], tag[10]] = [3, 3, grid];
    tag.set([...tables(3), ...clut, ...tables(3)], 48);
    const conversion = rgbToSrgb(parseIccProfile(lutProfile(tag)))!;
    const raster = { data: Uint8Array.from(chart.data), width: chart.width, height: chart.height, channels: 3 as const };
    conversion.convertInPlace(raster);
    // 8-bit XYZ nodes lose the darks: within a few ΔE, not the 16-bit table's fraction of one.
    expect(deltaE(raster.data, chart.data).mean).toBeLessThan(3);
  });

  it("refuses a LUT whose CLUT would be huge, before allocating it", () => {
    const tag = new Uint8Array(52);
    tag.set([0x6d, 0x66, 0x74, 0x32]); // "mft2"
    [tag[8], tag[9], tag[10]] = [4, 3, 255]; // 255⁴ × 3 entries
    new DataView(tag.buffer).setUint16(48, 256);
    new DataView(tag.buffer).setUint16(50, 256);
    expect(() => parseIccProfile(lutProfile(tag))).toThrow(/CLUT over/);
  });
});

describe("without our kernels (jSquash and the TypeScript resampler)", () => {
  it("every target is converted exactly once: from the source, and not again when cascaded from a larger one", async () => {
    const plain = await loadEngineModules({ kernels: false });
    // The photo-like picture read as Display P3 (its smooth content resamples alike in either colour space).
    const photo = await sharp(picture(), { raw: { width: W, height: H, channels: 4 } }).removeAlpha().png().toBuffer();
    const png = embedIccInPng(photo, await p3Profile());
    // 400×266 resizes from the source (not 2× smaller than the first); 160×106 cascades from the full-size content.
    const t = [target({ width: W, height: H, format: "png" }), target({ width: 400, height: 266, format: "png" }), target({ width: 160, height: 106, format: "png" })];
    let steps: string[] = [];
    const outs = await renderTargets(png, await probe(png), t, { modules: plain, maxPixels: 1e8 }, (r) => (steps = r.plan.steps.map((s) => s.from)));
    expect(steps).toEqual(["source", "source", "previous"]);
    expect(deltaE(await storedPixels(outs[0].bytes), await srgbPixels(png)).mean).toBeLessThan(0.05);
    for (const i of [1, 2]) {
      const [alone] = await renderTargets(png, await probe(png), [t[i]], { modules: plain, maxPixels: 1e8 });
      // Converted twice, P3 would be off by several ΔE; resampled another way, a fraction of one.
      expect(deltaE(await storedPixels(outs[i].bytes), await storedPixels(alone.bytes)).mean, `target ${i}`).toBeLessThan(0.5);

    }
  });
});
