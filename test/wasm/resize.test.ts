// The resize kernel against sharp/libvips (the reference the platform is measured by), on synthetic images
// generated here so every fixture says what it exercises. Outputs are compared by PSNR, never byte for byte:
// the kernel and libvips round differently and treat image borders differently.
import { readFileSync } from "node:fs";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { CodecError } from "../../wasm/src/errors.ts";
import { expectCodecError, psnr } from "./measure.ts";
import type { Orientation, Raster, Rect } from "../../wasm/src/raster.ts";
import {
  estimateResizeBytes, flattenAlpha, orient, padTo, resize, resizeOriented,
} from "../../wasm/src/resize.ts";

/** Node's WebAssembly.compile; the project's types describe the Workers runtime, which has no compile. */
const compileWasm = (WebAssembly as unknown as { compile(bytes: Uint8Array): Promise<WebAssembly.Module> }).compile;

let module: WebAssembly.Module;
beforeAll(async () => {
  module = await compileWasm(readFileSync(new URL("../../wasm/build/resize.wasm", import.meta.url)));
});

// --- fixtures ----------------------------------------------------------------------------------------------

type Generator = (x: number, y: number, w: number, h: number) => [number, number, number];

function raster(width: number, height: number, channels: 3 | 4, colour: Generator, alpha?: (x: number, y: number) => number): Raster {
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * channels;
      const [r, g, b] = colour(x, y, width, height);
      data[i] = r; data[i + 1] = g; data[i + 2] = b;
      if (channels === 4) data[i + 3] = alpha ? alpha(x, y) : 255;
    }
  }
  return { data, width, height, channels };
}

/** Smooth gradients and a slow wave: what the sky and skin in a photo look like. */
const smooth: Generator = (x, y, w, h) => [
  (x * 255) / w, (y * 255) / h, 128 + 90 * Math.sin((x + y) / 41) * Math.cos(y / 67),
];

/** Photo-like: soft blobs over a gradient with a fine texture, different per channel. */
const photo: Generator = (x, y, w, h) => {
  const u = x / w, v = y / h;
  const blob = Math.exp(-((u - 0.3) ** 2 + (v - 0.6) ** 2) * 20) * 160;
  const texture = 12 * Math.sin(x * 0.9) * Math.sin(y * 1.3);
  return [40 + blob + texture + 60 * v, 80 + 120 * u * v + texture, 200 - blob * 0.5 + texture];
};

/** Text-like hard edges: thin dark strokes and blocks on white, the worst case for ringing. */
const strokes: Generator = (x, y) => {
  const ink = (x % 23 < 3 && y % 40 < 30) || (y % 17 < 2 && x % 60 < 45) || ((x >> 4) + (y >> 4)) % 7 === 0;
  return ink ? [20, 20, 30] : [250, 248, 240];
};

/** Uniform noise from a fixed LCG: every frequency at once. */
function noise(): Generator {
  let seed = 987654321;
  const next = () => ((seed = (seed * 1664525 + 1013904223) >>> 0) >>> 24);
  return () => [next(), next(), next()];
}

// --- helpers -----------------------------------------------------------------------------------------------

async function sharpResize(src: Raster, width: number, height: number): Promise<Uint8Array> {
  const { width: w, height: h, channels } = src;
  const out = await sharp(src.data, { raw: { width: w, height: h, channels } })
    .resize(width, height, { kernel: "lanczos3", fit: "fill" }).raw().toBuffer();
  return new Uint8Array(out);
}


async function psnrAgainstSharp(src: Raster, width: number, height: number): Promise<number> {
  const ours = resize(module, src, width, height);
  expect(ours).toMatchObject({ width, height, channels: src.channels });
  return psnr(ours.data, await sharpResize(src, width, height));
}

function extract(src: Raster, r: Rect): Raster {
  const out = new Uint8Array(r.width * r.height * src.channels);
  for (let y = 0; y < r.height; y++) {
    const from = ((r.top + y) * src.width + r.left) * src.channels;
    out.set(src.data.subarray(from, from + r.width * src.channels), y * r.width * src.channels);
  }
  return { data: out, width: r.width, height: r.height, channels: src.channels };
}

/**
 * Lanczos3 straight from its definition, in f64, one output pixel at a time: pixel centres at i + 0.5, the
 * kernel stretched by the scale when shrinking, taps off the image dropped and the rest renormalised. The
 * oracle for upscaling (where sharp does not use Lanczos: libvips upsizes with bicubic whatever the kernel)
 * and for downscales small enough (< 4×) that the kernel does no box pre-shrink.
 */
function referenceLanczos3(src: Raster, width: number, height: number): Uint8Array {
  const kernel = (x: number) => {
    if (x === 0) return 1;
    if (Math.abs(x) >= 3) return 0;
    const px = Math.PI * x;
    return (3 * Math.sin(px) * Math.sin(px / 3)) / (px * px);
  };
  const weights = (inLen: number, outLen: number) => {
    const scale = inLen / outLen;
    const stretch = Math.max(scale, 1);
    return Array.from({ length: outLen }, (_, i) => {
      const centre = (i + 0.5) * scale;
      const taps: [number, number][] = [];
      for (let j = Math.floor(centre - 3 * stretch); j <= Math.ceil(centre + 3 * stretch); j++) {
        if (j >= 0 && j < inLen) taps.push([j, kernel((j + 0.5 - centre) / stretch)]);
      }
      const sum = taps.reduce((s, [, w]) => s + w, 0);
      return taps.map(([j, w]) => [j, w / sum] as [number, number]);
    });
  };
  const { width: w, height: h, channels: ch, data } = src;
  const premultiply = ch === 4;
  const at = (x: number, y: number, c: number) => {
    const i = (y * w + x) * ch;
    return premultiply && c < 3 ? (data[i + c] * data[i + 3]) / 255 : data[i + c];
  };
  const wx = weights(w, width);
  const wy = weights(h, height);
  const horizontal = new Float64Array(width * h * ch);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < ch; c++) {
        horizontal[(y * width + x) * ch + c] = wx[x].reduce((s, [j, k]) => s + k * at(j, y, c), 0);
      }
    }
  }
  const out = new Uint8Array(width * height * ch);
  const px = new Float64Array(ch);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < ch; c++) px[c] = wy[y].reduce((s, [j, k]) => s + k * horizontal[(j * width + x) * ch + c], 0);
      const scale = premultiply ? (px[3] >= 0.5 ? 255 / px[3] : 0) : 1;
      for (let c = 0; c < ch; c++) {
        const v = premultiply && c < 3 ? px[c] * scale : px[c];
        out[(y * width + x) * ch + c] = Math.min(255, Math.max(0, Math.round(v)));
      }
    }
  }
  return out;
}

/** A raster translated by `dx` source pixels with edge pixels repeated: to show what a sampling shift costs. */
function shifted(src: Raster, dx: number): Raster {
  const { width: w, height: h, channels: ch } = src;
  const data = new Uint8Array(src.data.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const from = (y * w + Math.min(w - 1, Math.max(0, x + dx))) * ch;
      data.set(src.data.subarray(from, from + ch), (y * w + x) * ch);
    }
  }
  return { data, width: w, height: h, channels: ch };
}

/** RGBA with colour scaled by alpha (rounded to 8 bits): what a pixel contributes once composited. */
function premultiplied(d: Uint8Array): Uint8Array {
  return d.map((v, i) => (i % 4 === 3 ? v : Math.round((v * d[i - (i % 4) + 3]) / 255)));
}


// --- thresholds --------------------------------------------------------------------------------------------
// Measured against sharp 0.35.5 on these fixtures (RGB and RGBA): smooth ≥ 51 dB, photo ≥ 54 dB, noise ≥ 50 dB,
// strokes ≥ 44 dB. The floors sit ~6 dB under the worst case measured (room for border handling and rounding)
// yet above what real bugs cost; the "thresholds catch" tests below prove that on the same fixtures.
const FLOOR = { smooth: 45, photo: 45, noise: 42, strokes: 38 } as const;
/** Against the f64 reference implementation the only differences are f32 accumulation and rounding ties. */
const REFERENCE_FLOOR = 50;

const contents = {
  smooth: () => smooth,
  photo: () => photo,
  strokes: () => strokes,
  noise,
} as const;

describe("resize matches sharp (lanczos3, fit fill) when downscaling", () => {
  const cases: [string, number, number, number, number][] = [
    ["1.5×", 600, 450, 400, 300],
    ["2×", 600, 450, 300, 225],
    ["3.7×", 740, 555, 200, 150],
    ["12.5× (box pre-shrink 6, then Lanczos)", 2000, 1500, 160, 120],
    ["100× (box pre-shrink 50)", 3000, 2000, 30, 20],
    ["non-square, different factor per axis", 640, 480, 300, 100],
    ["a 1×N column", 1, 500, 1, 50],
    ["an N×1 row", 500, 1, 50, 1],
    ["an image to a single column", 300, 200, 1, 20],
    ["an image to a single row", 300, 200, 20, 1],
  ];
  for (const [label, w, h, tw, th] of cases) {
    for (const [name, make] of Object.entries(contents) as [keyof typeof contents, () => Generator][]) {
      it.each([3, 4] as const)(`${label}: ${name} ${w}x${h} → ${tw}x${th}, %i channels`, async (channels) => {
        const src = raster(w, h, channels, make());
        expect(await psnrAgainstSharp(src, tw, th)).toBeGreaterThanOrEqual(FLOOR[name]);
      });
    }
  }
});

describe("resize follows the Lanczos3 definition", () => {
  const cases: [string, number, number, number, number][] = [
    ["upscale 2×", 100, 80, 200, 160],
    ["upscale 3.3× on one axis, downscale 3.9× on the other", 390, 30, 100, 99],
    ["downscale 1.5× (no pre-shrink)", 150, 120, 100, 80],
    ["downscale 3.7× (no pre-shrink)", 370, 111, 100, 30],
    ["odd small sizes", 7, 5, 3, 11],
  ];
  for (const [label, w, h, tw, th] of cases) {
    for (const name of ["photo", "strokes", "noise"] as const) {
      it.each([3, 4] as const)(`${label}: ${name} ${w}x${h} → ${tw}x${th}, %i channels`, (channels) => {
        const src = raster(w, h, channels, contents[name](), channels === 4 ? (x, y) => 255 - ((x * 7 + y * 3) % 256) : undefined);
        const ours = resize(module, src, tw, th);
        expect(psnr(ours.data, referenceLanczos3(src, tw, th))).toBeGreaterThanOrEqual(REFERENCE_FLOOR);
      });
    }
  }

  // PSNR averages; this catches a single wrong column or row (row ends, ring slots, partial vectors).
  // (Sizes stay under 4× so the kernel does no pre-shrink; 16- and 32-wide outputs fill whole vectors.)
  it.each([[400, 300, 160, 120], [40, 200, 16, 100], [50, 40, 64, 48], [90, 45, 37, 19], [170, 9, 101, 3], [60, 60, 32, 32]])(
    "no pixel is off by more than 2 levels on smooth content: %ix%i → %ix%i",
    (w, h, tw, th) => {
      for (const channels of [3, 4] as const) {
        // Mirrored so the first column and row are bright: a zeroed border value must show.
        const mirrored: Generator = (x, y) => smooth(w - 1 - x, h - 1 - y, w, h);
        const src = raster(w, h, channels, mirrored, channels === 4 ? (x, y) => 128 + 127 * Math.sin(x / 50 + y / 70) : undefined);
        // RGBA is compared as it is seen, premultiplied: colour at alpha 1/255 may be off by more, invisibly.
        const seen = (d: Uint8Array) => (channels === 3 ? d : premultiplied(d));
        const ours = seen(resize(module, src, tw, th).data);
        const ref = seen(referenceLanczos3(src, tw, th));
        let worst = 0;
        for (let i = 0; i < ours.length; i++) worst = Math.max(worst, Math.abs(ours[i] - ref[i]));
        expect(worst).toBeLessThanOrEqual(2);
      }
    },
  );

  it("agrees with sharp's upscale on smooth content (sharp upsizes with bicubic, so only smooth content agrees)", async () => {
    expect(await psnrAgainstSharp(raster(100, 80, 3, photo), 200, 160)).toBeGreaterThanOrEqual(38);
    expect(await psnrAgainstSharp(raster(100, 80, 3, smooth), 200, 160)).toBeGreaterThanOrEqual(45);
  });

  it("keeps a uniform colour exactly (weights are normalised)", () => {
    for (const [w, h, tw, th] of [[500, 400, 37, 29], [30, 20, 97, 61], [1000, 10, 7, 3]]) {
      const src = raster(w, h, 4, () => [200, 100, 3], () => 180);
      const out = resize(module, src, tw, th);
      expect(new Set(out.data).size).toBeLessThanOrEqual(4);
      expect(Array.from(out.data.subarray(0, 4))).toEqual([200, 100, 3, 180]);
      expect(out.data.every((v, i) => v === [200, 100, 3, 180][i % 4])).toBe(true);
    }
  });

  it.each([
    [1, 1, 3, 2],
    [2, 1, 1, 5],
    [70000, 1, 1, 1],
    [1, 9000, 2, 1],
    [5, 5, 1000, 1],
  ])("handles degenerate sizes %ix%i → %ix%i (uniform colour survives)", (w, h, tw, th) => {
    for (const channels of [3, 4] as const) {
      // Opaque bright red: 70000 such premultiplied pixels in one box overflow an i32 sum unless it is split.
      const out = resize(module, raster(w, h, channels, () => [250, 10, 128], () => 255), tw, th);
      const px = channels === 3 ? [250, 10, 128] : [250, 10, 128, 255];
      expect(out.data.every((v, i) => v === px[i % channels])).toBe(true);
    }
  });

  it("returns an unchanged copy when the size does not change", () => {
    const src = raster(64, 48, 3, photo);
    const out = resize(module, src, 64, 48);
    expect(out.data).toEqual(src.data);
    expect(out.data).not.toBe(src.data);
  });
});

describe("the PSNR floors catch real bugs", () => {
  const src = raster(600, 450, 3, strokes);

  it("a half-pixel sampling shift falls below the floor", async () => {
    const ours = resize(module, src, 300, 225);
    const halfPixelOff = await sharpResize(shifted(src, 1), 300, 225);
    expect(psnr(ours.data, halfPixelOff)).toBeLessThan(FLOOR.strokes);
  });

  it("swapped channels fall below the floor", async () => {
    const photoSrc = raster(600, 450, 3, photo);
    const ours = resize(module, photoSrc, 300, 225).data.slice();
    for (let i = 0; i < ours.length; i += 3) [ours[i], ours[i + 2]] = [ours[i + 2], ours[i]];
    expect(psnr(ours, await sharpResize(photoSrc, 300, 225))).toBeLessThan(FLOOR.photo);
  });

  it("weights off by 2% (missing normalisation) fall below the floor", async () => {
    const smoothSrc = raster(600, 450, 3, smooth);
    const ours = resize(module, smoothSrc, 300, 225).data.map((v) => Math.min(255, Math.round(v * 1.02)));
    expect(psnr(ours, await sharpResize(smoothSrc, 300, 225))).toBeLessThan(FLOOR.smooth);
  });
});

describe("crop", () => {
  const src = raster(800, 600, 3, photo);
  const crops: [Rect, number, number][] = [
    [{ left: 100, top: 50, width: 400, height: 300 }, 160, 120],
    [{ left: 0, top: 0, width: 800, height: 100 }, 200, 25],
    [{ left: 799, top: 0, width: 1, height: 600 }, 1, 60],
    [{ left: 333, top: 222, width: 111, height: 77 }, 50, 35],
  ];
  it.each(crops)("resizes only the rectangle %o to %ix%i, as sharp extract + resize does", async (crop, tw, th) => {
    const ours = resize(module, src, tw, th, { crop });
    const ref = await sharpResize(extract(src, crop), tw, th);
    expect(psnr(ours.data, ref)).toBeGreaterThanOrEqual(FLOOR.photo);
    // The window must be read in place, pixel for pixel as if it had been cut out first.
    expect(ours.data).toEqual(resize(module, extract(src, crop), tw, th).data);
  });

  it("upscales a crop as if it had been cut out first", () => {
    const crop = { left: 333, top: 222, width: 111, height: 77 };
    expect(resize(module, src, 250, 170, { crop }).data).toEqual(resize(module, extract(src, crop), 250, 170).data);
  });

  it("with the crop's own size just cuts it out", () => {
    const crop = { left: 10, top: 20, width: 30, height: 40 };
    expect(resize(module, src, 30, 40, { crop }).data).toEqual(extract(src, crop).data);
  });
});

describe("orientation", () => {
  const orientations: Orientation[] = [1, 2, 3, 4, 5, 6, 7, 8];
  /** An asymmetric scene stored as a JPEG that carries `orientation` in EXIF, as a camera would write it. */
  async function cameraJpeg(orientation: Orientation): Promise<{ jpeg: Buffer; stored: Raster }> {
    const base = raster(120, 80, 3, (x, y, w, h) => [x < w / 4 && y < h / 3 ? 255 : (x * 200) / w, (y * 255) / h, x > y ? 40 : 220]);
    const jpeg = await sharp(base.data, { raw: { width: 120, height: 80, channels: 3 } })
      .jpeg({ quality: 100, chromaSubsampling: "4:4:4" })
      .withMetadata({ orientation })
      .toBuffer();
    const { data, info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
    return { jpeg, stored: { data: new Uint8Array(data), width: info.width, height: info.height, channels: 3 } };
  }

  it.each(orientations)("orient(%i) shows what sharp's auto-rotate shows", async (o) => {
    const { jpeg, stored } = await cameraJpeg(o);
    const { data, info } = await sharp(jpeg).rotate().raw().toBuffer({ resolveWithObject: true });
    const out = orient(stored, o);
    expect([out.width, out.height]).toEqual([info.width, info.height]);
    expect(out.data).toEqual(new Uint8Array(data));
  });

  it("orient maps a 3×2 image pixel by pixel", () => {
    // Stored:  a b c      Pixels are single-channel markers repeated in R, G and B.
    //          d e f
    const stored: Raster = { data: new Uint8Array([1, 2, 3, 4, 5, 6].flatMap((v) => [v, v, v])), width: 3, height: 2, channels: 3 };
    const seen = (o: Orientation) => {
      const r = orient(stored, o);
      return { size: [r.width, r.height], px: Array.from(r.data.filter((_, i) => i % 3 === 0)) };
    };
    expect(seen(1)).toEqual({ size: [3, 2], px: [1, 2, 3, 4, 5, 6] });
    expect(seen(2)).toEqual({ size: [3, 2], px: [3, 2, 1, 6, 5, 4] });
    expect(seen(3)).toEqual({ size: [3, 2], px: [6, 5, 4, 3, 2, 1] });
    expect(seen(4)).toEqual({ size: [3, 2], px: [4, 5, 6, 1, 2, 3] });
    expect(seen(5)).toEqual({ size: [2, 3], px: [1, 4, 2, 5, 3, 6] });
    expect(seen(6)).toEqual({ size: [2, 3], px: [4, 1, 5, 2, 6, 3] });
    expect(seen(7)).toEqual({ size: [2, 3], px: [6, 3, 5, 2, 4, 1] });
    expect(seen(8)).toEqual({ size: [2, 3], px: [3, 6, 2, 5, 1, 4] });
  });

  it.each(orientations)("resizeOriented(%i) takes target and crop in oriented coordinates", async (o) => {
    const { jpeg, stored } = await cameraJpeg(o);
    const swap = o >= 5;
    const [ow, oh] = swap ? [80, 120] : [120, 80];
    const viewer = sharp(jpeg).rotate();
    const whole = await viewer.clone().resize(ow / 2, oh / 2 + 3, { kernel: "lanczos3", fit: "fill" }).raw().toBuffer();
    const ours = resizeOriented(module, stored, o, ow / 2, oh / 2 + 3);
    expect([ours.width, ours.height]).toEqual([ow / 2, oh / 2 + 3]);
    expect(psnr(ours.data, new Uint8Array(whole))).toBeGreaterThanOrEqual(FLOOR.photo);

    const crop = { left: 5, top: 10, width: Math.round(ow * 0.6), height: Math.round(oh * 0.5) };
    const cropped = await viewer.clone().extract(crop).resize(20, 15, { kernel: "lanczos3", fit: "fill" }).raw().toBuffer();
    const oursCropped = resizeOriented(module, stored, o, 20, 15, { crop });
    expect([oursCropped.width, oursCropped.height]).toEqual([20, 15]);
    expect(psnr(oursCropped.data, new Uint8Array(cropped))).toBeGreaterThanOrEqual(FLOOR.photo);
  });
});

describe("alpha", () => {
  /** An opaque red disc on fully transparent black: filtering straight alpha would pull black into the edge. */
  const inDisc = (x: number, y: number) => (x - 200) ** 2 + (y - 150) ** 2 < 100 ** 2;
  const redOnBlack: Generator = (x, y) => (inDisc(x, y) ? [255, 0, 0] : [0, 0, 0]);

  it.each([[37, 28], [100, 75], [200, 150], [800, 600]])("a red disc on transparent black keeps red edges at %ix%i", (tw, th) => {
    const src = raster(400, 300, 4, redOnBlack, (x, y) => (inDisc(x, y) ? 255 : 0));
    const out = resize(module, src, tw, th);
    let edge = 0;
    let darkened = 0;
    for (let i = 0; i < out.data.length; i += 4) {
      const a = out.data[i + 3];
      if (a > 16 && out.data[i] < 250) darkened++;
      if (a > 0 && a < 255) edge++;
    }
    expect(darkened).toBe(0);
    expect(edge).toBeGreaterThan(0); // the edge really is semi-transparent, so the check above means something
    // Wherever the kernel's footprint (3 output pixels each side, plus a box) misses the disc, stays transparent.
    const scale = Math.max(400 / tw, 300 / th, 1);
    let far = 0;
    let visible = 0;
    for (let y = 0; y < th; y++) {
      for (let x = 0; x < tw; x++) {
        const gap = Math.hypot(((x + 0.5) * 400) / tw - 200, ((y + 0.5) * 300) / th - 150) - 100;
        if (gap > 4 * scale + 1) {
          far++;
          const i = (y * tw + x) * 4;
          if (out.data[i] | out.data[i + 1] | out.data[i + 2] | out.data[i + 3]) visible++;
        }
      }
    }
    expect(visible).toBe(0);
    expect(far).toBeGreaterThan(tw * th * 0.3);
  });

  it("matches sharp (which premultiplies too) on colour-weighted pixels", async () => {
    const src = raster(400, 300, 4, photo, (x, y) => (x * 255) / 400 * ((y % 50) / 50));
    const ours = resize(module, src, 90, 70);
    const ref = await sharpResize(src, 90, 70);
    // Compare premultiplied: a pixel's colour matters in proportion to how visible it is.
    expect(psnr(premultiplied(ours.data), premultiplied(ref))).toBeGreaterThanOrEqual(FLOOR.photo);
  });
});

describe("invalid arguments", () => {
  const src = raster(40, 30, 3, smooth);
  it.each([[0, 10], [10, 0], [-5, 10], [10, -1], [1.5, 10], [Number.NaN, 10]])("target %sx%s is a limit error", (w, h) => {
    expectCodecError(() => resize(module, src, w, h), "limit", /target size must be positive integers/);
  });
  it.each([
    { left: -1, top: 0, width: 10, height: 10 },
    { left: 35, top: 0, width: 10, height: 10 },
    { left: 0, top: 25, width: 10, height: 10 },
    { left: 0, top: 0, width: 0, height: 10 },
    { left: 0.5, top: 0, width: 10, height: 10 },
  ])("crop %o outside the image is a limit error", (crop) => {
    expectCodecError(() => resize(module, src, 10, 10, { crop }), "limit", /crop must be a non-empty integer rect inside the 40x30 image/);
  });
  it("an oriented crop is checked against the oriented size", () => {
    expectCodecError(
      () => resizeOriented(module, src, 6, 10, 10, { crop: { left: 0, top: 0, width: 40, height: 10 } }),
      "limit", /inside the 30x40 image/,
    );
    expect(resizeOriented(module, src, 6, 10, 10, { crop: { left: 0, top: 0, width: 30, height: 40 } }).width).toBe(10);
  });
  it("a target too large for one kernel instance is a limit error, refused before any allocation", () => {
    expectCodecError(() => resize(module, src, 60000, 60000), "limit", /over the \d+ byte kernel limit/);
  });
  it("a raster whose bytes do not match its size is corrupt", () => {
    expectCodecError(() => resize(module, { ...src, data: src.data.subarray(1) }, 10, 10), "corrupt", /expected 40x30x3/);
  });
  it("a bad orientation is rejected", () => {
    expectCodecError(() => resizeOriented(module, src, 9 as Orientation, 10, 10), "corrupt", /orientation must be an integer 1..8/);
  });
});

describe("memory", () => {
  it.each([
    [4000, 3000, 3, 320, 240],
    [4000, 3000, 4, 1366, 1025],
    [500, 375, 3, 320, 240],
    [100, 80, 4, 400, 320],
    [100, 80, 3, 400, 320],
    [3000, 2000, 3, 30, 20],
    [1000, 1000, 4, 10, 900],
  ] as const)("estimateResizeBytes covers the instance for %ix%i×%i → %ix%i", (w, h, ch, tw, th) => {
    const kernel = new WebAssembly.Instance(module, { env: { abort() {}, fetchRows() {} } }).exports as unknown as {
      memory: WebAssembly.Memory; plan(ch: number, w: number, h: number, tw: number, th: number): number;
    };
    kernel.plan(ch, w, h, tw, th);
    const estimate = estimateResizeBytes(w, h, ch, tw, th);
    expect(estimate).toBeGreaterThanOrEqual(kernel.memory.buffer.byteLength + tw * th * ch);
    // Tight enough to plan with: within 10% and a page of the real need.
    expect(estimate).toBeLessThanOrEqual(kernel.memory.buffer.byteLength * 1.1 + 65536 + tw * th * ch);
  });

  it("a 12 MP source never lives in the instance: a thumbnail needs a few MB", () => {
    expect(estimateResizeBytes(4000, 3000, 4, 320, 240)).toBeLessThan(4 * 2 ** 20);
    expect(estimateResizeBytes(4000, 3000, 4, 1366, 1025)).toBeLessThan(16 * 2 ** 20);
  });
});

describe("padTo and flattenAlpha", () => {
  it("centres the image on the background", () => {
    const src: Raster = { data: new Uint8Array([10, 20, 30, 40, 50, 60]), width: 2, height: 1, channels: 3 };
    const out = padTo(src, 4, 3, [1, 2, 3, 255]);
    expect([out.width, out.height, out.channels]).toEqual([4, 3, 3]);
    const px = (x: number, y: number) => Array.from(out.data.subarray((y * 4 + x) * 3, (y * 4 + x) * 3 + 3));
    expect(px(0, 0)).toEqual([1, 2, 3]);
    expect(px(1, 1)).toEqual([10, 20, 30]);
    expect(px(2, 1)).toEqual([40, 50, 60]);
    expect(px(3, 1)).toEqual([1, 2, 3]);
    expect(px(1, 2)).toEqual([1, 2, 3]);
  });

  it("pads to RGBA when the background is transparent", () => {
    const src: Raster = { data: new Uint8Array([10, 20, 30]), width: 1, height: 1, channels: 3 };
    const out = padTo(src, 3, 1, [0, 0, 0, 0]);
    expect(out.channels).toBe(4);
    expect(Array.from(out.data)).toEqual([0, 0, 0, 0, 10, 20, 30, 255, 0, 0, 0, 0]);
  });

  it("refuses a canvas smaller than the image", () => {
    const src = raster(10, 10, 3, smooth);
    expectCodecError(() => padTo(src, 9, 20, [0, 0, 0, 255]), "limit", /at least the image size 10x10/);
  });

  it("flattens RGBA over the background colour", () => {
    const src: Raster = { data: new Uint8Array([255, 0, 0, 255, 255, 0, 0, 0, 255, 0, 0, 128]), width: 3, height: 1, channels: 4 };
    const out = flattenAlpha(src, [0, 0, 255]);
    expect(out.channels).toBe(3);
    expect(Array.from(out.data)).toEqual([255, 0, 0, 0, 0, 255, 128, 0, 127]);
  });
});
