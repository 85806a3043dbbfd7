import { beforeAll, describe, expect, it } from "vitest";
import sharp from "sharp";
import { renderTargets, CodecError, type EngineModules, type RenderTarget, type SourceInfo } from "../../wasm/src/engine.ts";
import { loadEngineModules } from "../../wasm/src/modules.node.ts";
import { composeGifFrames, walkGif } from "../../wasm/src/animation/gif-frames.ts";
import { composeWebpFrames } from "../../wasm/src/animation/webp-frames.ts";
import { readAnimation, animationOverLimit } from "../../wasm/src/animation/index.ts";
import { instantiateWebpDecoder } from "../../wasm/src/codecs/instances.ts";
import { probeImage } from "../../wasm/src/probe.ts";
import { psnr } from "./measure.ts";
import { AH, AW, DELAYS, FRAMES, animatedGif, animatedWebp, premultiplied, sharpFrames, withGifDisposal, withWebpModes } from "./animation-fixtures.ts";

let modules: EngineModules;
beforeAll(async () => {
  modules = await loadEngineModules({ kernels: true });
});

const source = (bytes: Uint8Array): SourceInfo => {
  const h = probeImage(bytes);
  return { format: h.format, width: h.width, height: h.height, orientation: h.orientation, hasAlpha: h.hasAlpha };
};

/** Our frames, each copied as it is shown (the compositor reuses its canvas). */
function gifFrames(bytes: Uint8Array) {
  const frames = [];
  for (const f of composeGifFrames(bytes)) frames.push({ ...f, rgba: f.rgba.slice() });
  return frames;
}

async function ourWebpFrames(bytes: Uint8Array) {
  const codec = await instantiateWebpDecoder(modules.webpDec);
  const frames = [];
  for (const f of composeWebpFrames(bytes, (still) => {
    const image = codec.api.decode(still)!;
    return { data: new Uint8Array(image.data.buffer, image.data.byteOffset, image.data.byteLength), width: image.width, height: image.height };
  })) frames.push({ rgba: f.rgba.slice(), delayMs: f.delayMs });
  return frames;
}

function expectFramesMatch(ours: Array<{ rgba: Uint8Array; delayMs: number }>, ref: Awaited<ReturnType<typeof sharpFrames>>, minPsnr: number) {
  expect(ours.length).toBe(ref.frames.length);
  expect(ours.map((f) => f.delayMs)).toEqual(ref.delay);
  ours.forEach((f, i) => expect(psnr(premultiplied(f.rgba), premultiplied(ref.frames[i])), `frame ${i}`).toBeGreaterThan(minPsnr));
}

describe("animated GIF in: every frame composed with its disposal, against sharp's decode", () => {
  for (const [disposal, name] of [[0, "unspecified"], [1, "none (keep)"], [2, "restore to background"], [3, "restore to previous"]] as const) {
    it(`disposal ${disposal}, ${name}`, async () => {
      const gif = withGifDisposal(await animatedGif(), disposal);
      const ref = await sharpFrames(gif);
      const ours = gifFrames(gif);
      expect(ours.length).toBe(FRAMES);
      // Both decoders read the same palette indices: identical, not just close.
      expectFramesMatch(ours, ref, 99);
    });
  }

  it("the disposal methods really differ on this fixture (so the tests above can fail)", async () => {
    const gif = await animatedGif();
    const last = (d: number) => gifFrames(withGifDisposal(gif, d)).at(-1)!.rgba;
    expect(Buffer.from(last(1)).equals(Buffer.from(last(2)))).toBe(false);
    expect(Buffer.from(last(1)).equals(Buffer.from(last(3)))).toBe(false);
  });

  it("a frame placed past the logical screen is clipped, and the screen keeps its size", async () => {
    const gif = withGifDisposal(await animatedGif(), 1);
    const last = walkGif(gif).frames.at(-1)!;
    // The last frame's image descriptor: 0x2c, left, top, width, height, just before its palette and data.
    const patched = Buffer.from(gif);
    let at = last.dataAt - 10;
    while (!(patched[at] === 0x2c && patched.readUInt16LE(at + 5) === last.width && patched.readUInt16LE(at + 7) === last.height)) at--;
    patched.writeUInt16LE(AW - 4, at + 1);
    const frames = gifFrames(patched);
    expect(frames.length).toBe(FRAMES);
    expect(frames.every((f) => f.width === AW && f.height === AH && f.rgba.length === AW * AH * 4)).toBe(true);
    // Only the frame's 4 leftmost columns land on the screen; the one before shows through elsewhere.
    const [before, after] = [frames[FRAMES - 2].rgba, frames[FRAMES - 1].rgba];
    const column = (rgba: Uint8Array, x: number) => Array.from({ length: AH }, (_, y) => rgba.subarray((y * AW + x) * 4, (y * AW + x) * 4 + 4).join());
    expect(column(after, 0)).toEqual(column(before, 0));
  });
});

describe("animated WebP in: every frame composed with its blend and dispose modes, against sharp's decode", () => {
  for (const blend of [true, false]) {
    for (const dispose of [false, true]) {
      it(`${blend ? "alpha-blend" : "no blend"}, ${dispose ? "dispose to background" : "no dispose"}`, async () => {
        const webp = withWebpModes(await animatedWebp(true), { blend, dispose });
        const ref = await sharpFrames(webp);
        expectFramesMatch(await ourWebpFrames(webp), ref, 45);
        expect(ref.loop).toBe(3);
      });
    }
  }

  it("a lossy animation (sharp's own choice of sub-rectangles and modes)", async () => {
    const webp = await animatedWebp(false);
    expectFramesMatch(await ourWebpFrames(webp), await sharpFrames(webp), 40);
  });
});

describe("the header says how big an animation is, before any decode", () => {
  it("counts every frame of a GIF and of a WebP", async () => {
    expect(readAnimation(await animatedGif(), "gif")).toEqual({ width: AW, height: AH, frameCount: FRAMES, loop: 0 });
    expect(readAnimation(await animatedWebp(), "webp")).toEqual({ width: AW, height: AH, frameCount: FRAMES, loop: 3 });
  });

  it("names the summed-area limit and the frame-count limit", () => {
    const a = { width: 1000, height: 1000, frameCount: 60, loop: 0 };
    expect(animationOverLimit(a, { maxAnimationPixels: 50_000_000, maxAnimationFrames: 1000 })).toMatch(/60 frames of 1000×1000 are 60\.0 megapixels in all; the limit is 50 megapixels \(MAX_ANIMATION_PIXELS\)/);
    expect(animationOverLimit(a, { maxAnimationPixels: 60_000_000, maxAnimationFrames: 1000 })).toBeUndefined();
    expect(animationOverLimit(a, { maxAnimationPixels: 1e9, maxAnimationFrames: 50 })).toMatch(/60 frames; the limit is 50 frames \(MAX_ANIMATION_FRAMES\)/);
  });
});

describe("animated out: the engine keeps the animation, resized frame by frame", () => {
  const target = (t: Partial<RenderTarget>): RenderTarget => ({ width: 24, height: 16, format: "webp", quality: 90, metadata: "none", animate: true, ...t });

  for (const name of ["GIF", "WebP"] as const) {
    it(`${name} → animated WebP: frame count, delays, and each frame close to sharp's resize of sharp's frame`, async () => {
      const input: Buffer = name === "GIF" ? withGifDisposal(await animatedGif(), 2) : await animatedWebp(true);
      const [out] = await renderTargets(input, source(input), [target({})], { modules, maxPixels: 1e8 });
      expect(out.format).toBe("webp");
      expect([out.width, out.height]).toEqual([24, 16]);
      const got = await sharpFrames(out.bytes);
      expect(got.frames.length).toBe(FRAMES);
      expect(got.delay).toEqual(DELAYS);
      const ref = await sharpFrames(input);
      for (let i = 0; i < FRAMES; i++) {
        const expected = await sharp(ref.frames[i], { raw: { width: AW, height: AH, channels: 4 } }).resize(24, 16, { fit: "fill" }).raw().toBuffer();
        expect(psnr(premultiplied(got.frames[i]), premultiplied(expected)), `frame ${i}`).toBeGreaterThan(24);
      }
    });
  }

  it("animate off, or a format without animation, renders the first frame as a still", async () => {
    const gif = await animatedGif();
    const [still, jpeg] = await renderTargets(gif, source(gif), [target({ animate: false }), target({ format: "jpeg" })], { modules, maxPixels: 1e8 });
    expect((await sharp(still.bytes).metadata()).pages ?? 1).toBe(1);
    expect(jpeg.format).toBe("jpeg");
  });

  it("an animation over MAX_ANIMATION_PIXELS is refused by name before a frame is decoded", async () => {
    const gif = await animatedGif();
    const error = await renderTargets(gif, source(gif), [target({})], { modules, maxPixels: 1e8, animationLimits: { maxAnimationPixels: AW * AH * 3, maxAnimationFrames: 1000 } }).catch((e) => e);
    expect(error).toBeInstanceOf(CodecError);
    expect(error.kind).toBe("limit");
    expect(error.message).toMatch(/MAX_ANIMATION_PIXELS/);
  });
});
