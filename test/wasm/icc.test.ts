import { beforeAll, describe, expect, it } from "vitest";
import sharp from "sharp";
import { renderTargets, type EngineModules, type RenderTarget } from "../../wasm/src/engine.ts";
import { loadEngineModules } from "../../wasm/src/modules.node.ts";
import { parseIccProfile, evalCurve, readCurve, MAX_ICC_PROFILE_BYTES } from "../../wasm/src/icc/profile.ts";
import { rgbToSrgb, compositeLut, cmykToSrgb } from "../../wasm/src/icc/to-srgb.ts";
import { embedIccInPng, heifIccProfile, jpegIccProfile, pngIccProfile } from "../../wasm/src/icc/containers.ts";
import { sourceColour } from "../../wasm/src/icc/source-colour.ts";
import { CodecError } from "../../wasm/src/errors.ts";
import { probe } from "./fixtures.ts";
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
const storedPixels = (img: Uint8Array) => sharp(img).removeAlpha().raw().toBuffer({ resolveWithObject: false });

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
