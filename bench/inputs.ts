/**
 * The benchmark's input set, generated with sharp and cached under bench/out/ (git-ignored).
 * "noisy" is per-pixel noise over gradients (worst case for entropy decoding, ~8 bits/px JPEG);
 * "smooth" is gradients and low-frequency waves (a clear sky); the large ones are photo-like (smooth + mild noise).
 */
import sharp from "sharp";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const OUT_DIR = fileURLToPath(new URL("./out/", import.meta.url));

export interface BenchInput {
  name: string;
  file: string;
  width: number;
  height: number;
}

type Content = "noisy" | "smooth" | "photo";

/** Deterministic xorshift noise so cached and fresh inputs are identical. */
export function noiseSource(seed: number) {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    return s & 255;
  };
}

function pixels(width: number, height: number, content: Content, channels: 3 | 4): Buffer {
  const px = Buffer.alloc(width * height * channels);
  const noise = noiseSource(width * 31 + height);
  const amp = content === "noisy" ? 1 : content === "photo" ? 0.12 : 0;
  for (let y = 0; y < height; y++) {
    const v = y / height;
    for (let x = 0; x < width; x++) {
      const u = x / width;
      const i = (y * width + x) * channels;
      const n = amp ? (noise() - 128) * amp : 0;
      px[i] = 30 + 180 * u + 20 * Math.sin(u * 11 + v * 3) + n;
      px[i + 1] = 50 + 150 * v + 20 * Math.sin(v * 7) + n;
      px[i + 2] = 200 - 140 * u * v + 25 * Math.cos(u * 5 - v * 9) + n;
      if (channels === 4) px[i + 3] = u > 0.7 ? Math.max(0, 255 - (u - 0.7) * 850) : 255;
    }
  }
  return px;
}

/** The input cached at bench/out/<file>, made by `make` the first time. */
export async function ensure(name: string, file: string, width: number, height: number, make: () => Promise<Buffer>): Promise<BenchInput> {
  mkdirSync(OUT_DIR, { recursive: true });
  const path = OUT_DIR + file;
  if (!existsSync(path)) writeFileSync(path, await make());
  return { name, file: path, width, height };
}

/** A maker of a synthetic JPEG (quality 90) of the given content. */
export function jpeg(width: number, height: number, content: Content, progressive: boolean) {
  return () => sharp(pixels(width, height, content, 3), { raw: { width, height, channels: 3 }, limitInputPixels: false })
    .jpeg({ quality: 90, progressive }).toBuffer();
}

/** A maker of a synthetic lossy WebP (quality 80, sharp's default effort) of a photo-like picture. */
function webp(width: number, height: number) {
  return () => sharp(pixels(width, height, "photo", 3), { raw: { width, height, channels: 3 }, limitInputPixels: false })
    .webp({ quality: 80 }).toBuffer();
}

/**
 * Inputs in ascending size, so jSquash's ever-growing heaps measure each row's own high-water mark. `keep` picks inputs by
 * name before any is generated (bench/run.ts --only).
 */
export async function benchInputs(keep: (name: string) => boolean = () => true): Promise<BenchInput[]> {
  const wanted = async (name: string, make: () => Promise<BenchInput>) => (keep(name) ? [await make()] : []);
  return [
    ...await wanted("PNG alpha 6 MP", () => ensure("PNG alpha 6 MP", "alpha-3000x2000.png", 3000, 2000, () =>
      sharp(pixels(3000, 2000, "photo", 4), { raw: { width: 3000, height: 2000, channels: 4 } }).png().toBuffer())),
    ...await wanted("12 MP noisy base", () => ensure("12 MP noisy base", "noisy-4000x3000.jpg", 4000, 3000, jpeg(4000, 3000, "noisy", false))),
    ...await wanted("12 MP noisy prog", () => ensure("12 MP noisy prog", "noisy-4000x3000-progressive.jpg", 4000, 3000, jpeg(4000, 3000, "noisy", true))),
    ...await wanted("12 MP smooth base", () => ensure("12 MP smooth base", "smooth-4000x3000.jpg", 4000, 3000, jpeg(4000, 3000, "smooth", false))),
    ...await wanted("12 MP smooth prog", () => ensure("12 MP smooth prog", "smooth-4000x3000-progressive.jpg", 4000, 3000, jpeg(4000, 3000, "smooth", true))),
    // Colour management's case: a Display P3 photo (as phones shoot), converted to sRGB for every output.
    ...await wanted("12 MP Display P3", () => ensure("12 MP Display P3", "photo-4000x3000-p3.jpg", 4000, 3000, () =>
      sharp(pixels(4000, 3000, "photo", 3), { raw: { width: 4000, height: 3000, channels: 3 } }).withIccProfile("p3").jpeg({ quality: 90 }).toBuffer())),
    // A print file: Adobe CMYK tagged with sharp's CMYK press profile, converted through it (icc/cmyk.ts).
    ...await wanted("12 MP CMYK tagged", () => ensure("12 MP CMYK tagged", "photo-4000x3000-cmyk.jpg", 4000, 3000, () =>
      sharp(pixels(4000, 3000, "photo", 3), { raw: { width: 4000, height: 3000, channels: 3 } }).withIccProfile("cmyk").jpeg({ quality: 90 }).toBuffer())),
    ...await wanted("24 MP photo", () => ensure("24 MP photo", "photo-6000x4000.jpg", 6000, 4000, jpeg(6000, 4000, "photo", false))),
    ...await wanted("50 MP photo", () => ensure("50 MP photo", "photo-8660x5774.jpg", 8660, 5774, jpeg(8660, 5774, "photo", false))),
    ...await wanted("100 MP photo", () => ensure("100 MP photo", "photo-12000x8333.jpg", 12000, 8333, jpeg(12000, 8333, "photo", false))),
    // The streaming PNG decoder's case: only a shrink-on-load decode fits a 100 MP PNG in the budget.
    ...await wanted("100 MP PNG", () => ensure("100 MP PNG", "smooth-12000x8333.png", 12000, 8333, () =>
      sharp(pixels(12000, 8333, "smooth", 3), { raw: { width: 12000, height: 8333, channels: 3 }, limitInputPixels: false }).png().toBuffer())),
    // The streaming VP8L decoder's case: libwebp's full-size decode of a 50 MP lossless WebP needs ~500 MB.
    ...await wanted("50 MP WebP (lossless)", () => ensure("50 MP WebP (lossless)", "smooth-10000x5000-lossless.webp", 10000, 5000, () =>
      sharp(pixels(10000, 5000, "smooth", 4), { raw: { width: 10000, height: 5000, channels: 4 }, limitInputPixels: false }).webp({ lossless: true }).toBuffer())),
    // Lossy WebP, decoded straight to the plan's scale by our libwebp build (wasm/native/webp-scaled).
    ...await wanted("24 MP panorama WebP", () => ensure("24 MP panorama WebP", "photo-11158x2156.webp", 11158, 2156, webp(11158, 2156))),
    ...await wanted("50 MP WebP (lossy)", () => ensure("50 MP WebP (lossy)", "photo-10000x5000.webp", 10000, 5000, webp(10000, 5000))),
    // Animation kept: 24 frames of 480×360 (4.1 MP of frames in all), rendered frame by frame to animated WebP.
    ...await wanted("animated GIF", () => ensure("animated GIF", "animated-480x360x24.gif", 480, 360, () => {
      const frame = pixels(480, 360, "photo", 4);
      const frames = Buffer.concat(Array.from({ length: 24 }, (_, i) => Buffer.concat([frame.subarray(i * 480 * 4 * 8), frame.subarray(0, i * 480 * 4 * 8)])));
      return sharp(frames, { raw: { width: 480, height: 360 * 24, channels: 4, pageHeight: 360 } }).gif({ delay: Array(24).fill(80), loop: 0 }).toBuffer();
    })),
    // SVG rasterised by resvg at each target's size: an illustration of 2000 shapes (gradients, strokes,
    // opacity), 2400×1600 intrinsic, ~230 KB; sharp (librsvg) renders it at its intrinsic size and resizes.
    ...await wanted("SVG 2000 shapes", () => ensure("SVG 2000 shapes", "shapes-2400x1600.svg", 2400, 1600, async () => Buffer.from(shapesSvg(2400, 1600, 2000)))),
  ];
}

export function readInput(input: BenchInput): Uint8Array {
  return new Uint8Array(readFileSync(input.file));
}

/** A deterministic SVG illustration: a gradient sky and `count` filled, stroked, translucent shapes. */
function shapesSvg(width: number, height: number, count: number): string {
  const noise = noiseSource(count);
  const at = (max: number) => Math.round((noise() / 255) * max);
  const colour = () => `#${[noise(), noise(), noise()].map((c) => c.toString(16).padStart(2, "0")).join("")}`;
  const shapes = Array.from({ length: count }, (_, i) => {
    const [x, y, r] = [at(width), at(height), 8 + at(60)];
    return i % 3 === 0
      ? `<circle cx="${x}" cy="${y}" r="${r}" fill="${colour()}" opacity="0.7"/>`
      : i % 3 === 1
        ? `<rect x="${x}" y="${y}" width="${2 * r}" height="${r}" rx="4" fill="${colour()}" stroke="${colour()}" stroke-width="3"/>`
        : `<path d="M${x} ${y} l${r} ${r * 2} l${-2 * r} 0 z" fill="url(#sky)" stroke="#222" stroke-width="1.5"/>`;
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">` +
    `<defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#1e90ff"/><stop offset="1" stop-color="#fff"/></linearGradient></defs>` +
    `<rect width="${width}" height="${height}" fill="url(#sky)"/>${shapes.join("")}</svg>`;
}
