/**
 * The rest of Cloudflare's option set (squeeze, trim, border, compression, baseline-jpeg), end to end through the
 * functions delivery uses (parse → eager-set targets → engine), against sharp's equivalent operation where it has
 * one and against hand-made expected pixels where it does not.
 */
import { beforeAll, describe, expect, it } from "vitest";
import sharp, { type Sharp } from "sharp";
import { renderTargets, type EngineModules, type OutputFormat } from "../../wasm/src/engine.ts";
import { loadEngineModules } from "../../wasm/src/modules.node.ts";
import { renderTargetsOf } from "../../workers/shared/eager-set.ts";
import { parseFlexibleOptions } from "../../workers/shared/transform.ts";
import { jpegWithOrientation, picture, probe, psnr, rgb, sharpSteps } from "./fixtures.ts";
import { AH, AW, animatedGif } from "./animation-fixtures.ts";

let modules: EngineModules;
let inputPng: Buffer;
beforeAll(async () => {
  modules = await loadEngineModules({ kernels: true });
  inputPng = await sharp(picture(), { raw: { width: 480, height: 320, channels: 4 } }).removeAlpha().png().toBuffer();
});

/** Renders each of `segments` of `input` in one call (so the cascade is in play); returns RGB pixels. */
async function oursAll(input: Uint8Array, segments: string[], format: OutputFormat = "png") {
  const source = await probe(input);
  const requests = segments.map((s) => ({ transform: parseFlexibleOptions(s), format, fingerprint: "", variant: null }));
  const outputs = await renderTargets(input, source, renderTargetsOf(source, requests), { modules, maxPixels: 1e8 });
  return Promise.all(outputs.map((o) => rgb(sharp(o.bytes))));
}
const ours = async (input: Uint8Array, segment: string) => (await oursAll(input, [segment]))[0];

describe("fit=squeeze", () => {
  it("stretches to exactly width × height like sharp's fit fill (PSNR > 35 dB)", async () => {
    const [a, b] = [await ours(inputPng, "w=200,h=200,fit=squeeze"), await sharpSteps(inputPng, (s) => s.resize(200, 200, { fit: "fill" }))];
    expect([a.width, a.height]).toEqual([200, 200]);
    expect(psnr(a.data, b.data)).toBeGreaterThan(35);
  });

  it("keeps the aspect ratio when only one side is given", async () => {
    const a = await ours(inputPng, "w=240,fit=squeeze");
    expect([a.width, a.height]).toEqual([240, 160]);
  });
});

describe("trim by pixels", () => {
  it("cuts top;right;bottom;left off the original like sharp's extract, pixel for pixel", async () => {
    const [a, b] = [await ours(inputPng, "trim=10;20;30;40"), await sharpSteps(inputPng, (s) => s.extract({ left: 40, top: 10, width: 420, height: 280 }))];
    expect([a.width, a.height]).toEqual([420, 280]);
    expect(a.data.equals(b.data)).toBe(true);
  });

  it("trim.left, trim.top, trim.width and trim.height keep that rectangle", async () => {
    const [a, b] = [
      await ours(inputPng, "trim.left=100,trim.top=50,trim.width=200,trim.height=120"),
      await sharpSteps(inputPng, (s) => s.extract({ left: 100, top: 50, width: 200, height: 120 })),
    ];
    expect(a.data.equals(b.data)).toBe(true);
  });

  it("happens before resize (PSNR > 35 dB against extract then resize)", async () => {
    const [a, b] = [
      await ours(inputPng, "trim=20;0;20;80,w=200"),
      await sharpSteps(inputPng, (s) => s.extract({ left: 80, top: 20, width: 400, height: 280 }), (s) => s.resize(200)),
    ];
    expect([a.width, a.height]).toEqual([200, 140]);
    expect(psnr(a.data, b.data)).toBeGreaterThan(35);
  });

  it("happens before rotation, in the axes of the original as displayed (after EXIF orientation)", async () => {
    const input = await jpegWithOrientation(6);
    const stored = await sharp(input).metadata();
    const [orientedW, orientedH] = [stored.height!, stored.width!]; // orientation 6 is a quarter turn
    const a = await ours(input, "trim=10;0;0;30,rotate=90");
    const expected = await sharpSteps(input, (s) => s.rotate(), (s) => s.extract({ left: 30, top: 10, width: orientedW - 30, height: orientedH - 10 }), (s) => s.rotate(90));
    expect([a.width, a.height]).toEqual([expected.width, expected.height]);
    expect(psnr(a.data, expected.data)).toBeGreaterThan(35);
  });

  it("with fit=cover crops inside the trimmed region only", async () => {
    const [a, b] = [
      await ours(inputPng, "trim=0;0;0;240,w=100,h=100,fit=cover"),
      await sharpSteps(inputPng, (s) => s.extract({ left: 240, top: 0, width: 240, height: 320 }), (s) => s.resize(100, 100, { fit: "cover" })),
    ];
    expect(psnr(a.data, b.data)).toBeGreaterThan(33);
  });

  it("is never fed an untrimmed raster by the cascade, nor feeds one (one call renders both)", async () => {
    const [whole, trimmed] = await oursAll(inputPng, ["w=400", "trim=0;0;0;240,w=100"]);
    const [expectWhole, expectTrimmed] = [
      await sharpSteps(inputPng, (s) => s.resize(400)),
      await sharpSteps(inputPng, (s) => s.extract({ left: 240, top: 0, width: 240, height: 320 }), (s) => s.resize(100)),
    ];
    expect([trimmed.width, trimmed.height]).toEqual([100, 133]);
    expect(psnr(trimmed.data, expectTrimmed.data)).toBeGreaterThan(33);
    expect(psnr(whole.data, expectWhole.data)).toBeGreaterThan(35);
  });
});

/** A photo-like picture inside a solid frame: `frame` px of `color` on every side (made for trim=border). */
async function framedPicture(frame: { top: number; right: number; bottom: number; left: number }, color: string) {
  const inner = await sharp(picture(), { raw: { width: 480, height: 320, channels: 4 } }).removeAlpha().resize(200, 120).png().toBuffer();
  return sharp(inner).extend({ ...frame, background: color }).png().toBuffer();
}

describe("trim=border", () => {
  it("cuts off exactly the frame of the top-left pixel's colour (hand-made: 200×120 inside 7/11/13/17 px), as sharp's trim does", async () => {
    const input = await framedPicture({ top: 7, right: 11, bottom: 13, left: 17 }, "#ffffff");
    const a = await ours(input, "trim=border");
    expect([a.width, a.height]).toEqual([200, 120]);
    const expected = await sharpSteps(input, (s) => s.extract({ left: 17, top: 7, width: 200, height: 120 }));
    expect(a.data.equals(expected.data)).toBe(true);
    const { info } = await sharp(input).trim({ threshold: 10 }).toBuffer({ resolveWithObject: true });
    expect([info.width, info.height, -info.trimOffsetLeft!, -info.trimOffsetTop!]).toEqual([200, 120, 17, 7]);
  });

  it("keeps trim.border.keep px of the frame, takes a given colour, and is planned again on the region (w=100 of the trimmed image)", async () => {
    const input = await framedPicture({ top: 10, right: 10, bottom: 10, left: 10 }, "#102030");
    expect(await ours(input, "trim=border,trim.border.keep=4")).toMatchObject({ width: 208, height: 128 });
    expect(await ours(input, "trim.border.color=%23102030")).toMatchObject({ width: 200, height: 120 });
    // A colour that is not the frame's trims nothing.
    expect(await ours(input, "trim.border.color=%23ff0000")).toMatchObject({ width: 220, height: 140 });
    expect(await ours(input, "trim=border,w=100")).toMatchObject({ width: 100, height: 60 });
  });

  it("tolerance is Cloudflare's scale (255 must match exactly): a frame 20 levels off is border at 230, not at 240", async () => {
    const input = await framedPicture({ top: 10, right: 10, bottom: 10, left: 10 }, "#ececec");
    expect(await ours(input, "trim.border.color=%23ffffff,trim.border.tolerance=230")).toMatchObject({ width: 200, height: 120 });
    expect(await ours(input, "trim.border.color=%23ffffff,trim.border.tolerance=240")).toMatchObject({ width: 220, height: 140 });
  });

  it("decodes the source whole: a small region inside a wide frame is not upscaled from a shrunk JPEG decode (PSNR > 35 dB)", async () => {
    const inner = await sharp(picture(), { raw: { width: 480, height: 320, channels: 4 } }).removeAlpha().resize(400, 300).png().toBuffer();
    const input = await sharp(inner).extend({ top: 600, right: 600, bottom: 600, left: 600, background: "#ffffff" }).jpeg({ quality: 95 }).toBuffer();
    const a = await ours(input, "trim=border,trim.border.tolerance=200,w=400");
    expect([a.width, a.height]).toEqual([400, 300]);
    const expected = await sharpSteps(input, (s) => s.extract({ left: 600, top: 600, width: 400, height: 300 }));
    expect(psnr(a.data, expected.data)).toBeGreaterThan(35);
  });

  it("of an animation is the first frame trimmed, not the animation untrimmed (the border is found in one raster)", async () => {
    const gif = await sharp(await animatedGif(), { animated: true }).extend({ top: 5, right: 5, bottom: 5, left: 5, background: "#ffffff" }).gif().toBuffer();
    const source = await probe(gif);
    const requests = [{ transform: parseFlexibleOptions("trim.border.color=%23ffffff"), format: "webp" as const, fingerprint: "", variant: null }];
    const [out] = await renderTargets(gif, source, renderTargetsOf(source, requests), { modules, maxPixels: 1e8 });
    const meta = await sharp(out.bytes, { animated: true }).metadata();
    expect([meta.pages ?? 1, meta.width, meta.pageHeight ?? meta.height]).toEqual([1, AW, AH]);
  });

  it("an image that is all border is kept whole", async () => {
    const blank = await sharp({ create: { width: 50, height: 40, channels: 3, background: "#808080" } }).png().toBuffer();
    expect(await ours(blank, "trim=border")).toMatchObject({ width: 50, height: 40 });
  });

  it("never shares a raster with an untrimmed target of the same call", async () => {
    const input = await framedPicture({ top: 30, right: 30, bottom: 30, left: 30 }, "#ffffff");
    const [whole, trimmed] = await oursAll(input, ["w=260", "trim=border,w=100"]);
    expect([whole.width, whole.height, trimmed.width, trimmed.height]).toEqual([260, 180, 100, 60]);
    const expected = await sharpSteps(input, (s) => s.extract({ left: 30, top: 30, width: 200, height: 120 }), (s) => s.resize(100));
    expect(psnr(trimmed.data, expected.data)).toBeGreaterThan(35);
  });
});

describe("border", () => {
  it("adds a frame of the colour outside the resized image: exactly the hand-made frame, the image inside it untouched", async () => {
    const inner = await ours(inputPng, "w=240");
    const framed = await ours(inputPng, "w=240,border.color=%23ff0000,border.top=3,border.right=5,border.bottom=7,border.left=9");
    expect([framed.width, framed.height]).toEqual([240 + 14, 160 + 10]);
    for (let y = 0; y < framed.height; y++) {
      for (let x = 0; x < framed.width; x++) {
        const p = (y * framed.width + x) * 3;
        const px = [...framed.data.subarray(p, p + 3)];
        const inside = x >= 9 && x < 9 + 240 && y >= 3 && y < 3 + 160;
        const expected = inside ? [...inner.data.subarray(((y - 3) * 240 + (x - 9)) * 3, ((y - 3) * 240 + (x - 9)) * 3 + 3)] : [255, 0, 0];
        if (px.join() !== expected.join()) throw new Error(`pixel ${x},${y} is ${px}, expected ${expected}`);
      }
    }
  });

  it("border=color;width matches sharp's resize then extend on every side (PSNR > 35 dB: the resamplers differ)", async () => {
    const [a, b] = [
      await ours(inputPng, "w=200,border=%2300ff00;6"),
      await sharpSteps(inputPng, (s) => s.resize(200), (s) => s.extend({ top: 6, right: 6, bottom: 6, left: 6, background: "#00ff00" })),
    ];
    expect([a.width, a.height]).toEqual([212, 145]);
    expect(psnr(a.data, b.data)).toBeGreaterThan(35);
  });

  it("goes outside fit=pad's canvas, and scales with dpr", async () => {
    const a = await ours(inputPng, "w=100,h=100,fit=pad,dpr=2,border=%23000000;4");
    expect([a.width, a.height]).toEqual([200 + 16, 200 + 16]);
  });
});

describe("compression=fast and baseline-jpeg", () => {
  it("format=baseline-jpeg is a baseline sequential JPEG (SOF0, no progressive SOF2)", async () => {
    const source = await probe(inputPng);
    const transform = parseFlexibleOptions("w=200,format=baseline-jpeg");
    expect(transform.format).toBe("jpeg");
    const [out] = await renderTargets(inputPng, source, renderTargetsOf(source, [{ transform, format: "jpeg", fingerprint: "", variant: null }]), { modules, maxPixels: 1e8 });
    const markers = (await sharp(out.bytes).metadata()).isProgressive;
    expect(markers).toBe(false);
    expect(Buffer.from(out.bytes).includes(Buffer.from([0xff, 0xc0]))).toBe(true);
  });

  it.each([
    ["jpeg", "standard Huffman tables instead of optimised ones: larger"],
    ["webp", "libwebp method 0 instead of 2: other bytes"],
  ] as const)("compression=fast encodes %s with its quickest settings (%s), the same size and nearly the same pixels", async (format, _what) => {
    const source = await probe(inputPng);
    const render = async (segment: string) => {
      const requests = [{ transform: parseFlexibleOptions(segment), format, fingerprint: "", variant: null }];
      return (await renderTargets(inputPng, source, renderTargetsOf(source, requests), { modules, maxPixels: 1e8 }))[0].bytes;
    };
    const [fast, normal] = [await render("w=300,compression=fast"), await render("w=300")];
    if (format === "jpeg") expect(fast.length).toBeGreaterThan(normal.length);
    else expect(Buffer.from(fast).equals(Buffer.from(normal))).toBe(false);
    const [a, b] = [await rgb(sharp(fast)), await rgb(sharp(normal))];
    expect([a.width, a.height]).toEqual([b.width, b.height]);
    expect(psnr(a.data, b.data)).toBeGreaterThan(30);
  });
});
