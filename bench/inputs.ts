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
  ];
}

export function readInput(input: BenchInput): Uint8Array {
  return new Uint8Array(readFileSync(input.file));
}
