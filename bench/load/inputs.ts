/**
 * The load harness's inputs, generated with sharp and cached under bench/out/ (git-ignored) like the codec
 * benchmark's: a detailed texture whose renditions land near the sizes delivery is measured at, the 12 MP photo
 * that is uploaded, and the 24 MP photo the render burst resizes.
 */
import sharp from "sharp";
import { readFileSync } from "node:fs";
import { ensure, jpeg, noiseSource, type BenchInput } from "../inputs.ts";

const TEXTURE_WIDTH = 2732;
const TEXTURE_HEIGHT = 2048;

/**
 * Value noise over five octaves, from broad shapes to per-pixel grain (foliage or gravel, say): detail at every
 * scale, so a 1366 px WebP stays near 200 KB instead of collapsing like a smooth gradient would.
 */
function texturePixels(width: number, height: number): Buffer {
  const random = noiseSource(20261201);
  const octaves = [
    { cell: 256, amplitude: 120 },
    { cell: 64, amplitude: 60 },
    { cell: 16, amplitude: 40 },
    { cell: 4, amplitude: 21 },
    { cell: 1.5, amplitude: 20 },
  ].map(({ cell, amplitude }) => {
    const gw = Math.ceil(width / cell) + 2;
    const gh = Math.ceil(height / cell) + 2;
    const grid = Float32Array.from({ length: gw * gh * 3 }, () => random() / 255 - 0.5);
    return { cell, amplitude, gw, grid };
  });
  const px = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < 3; c++) {
        let v = 128;
        for (const { cell, amplitude, gw, grid } of octaves) {
          const fx = x / cell, fy = y / cell;
          const ix = Math.floor(fx), iy = Math.floor(fy);
          const sx = smooth(fx - ix), sy = smooth(fy - iy);
          const at = (i: number, j: number) => grid[(j * gw + i) * 3 + c];
          const top = at(ix, iy) * (1 - sx) + at(ix + 1, iy) * sx;
          const bottom = at(ix, iy + 1) * (1 - sx) + at(ix + 1, iy + 1) * sx;
          v += (top * (1 - sy) + bottom * sy) * amplitude;
        }
        px[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  return px;
}

const smooth = (t: number) => t * t * (3 - 2 * t);

export type Bytes = Uint8Array<ArrayBuffer>;

export interface LoadInputs {
  /** Source of the two delivered renditions. */
  texture: Bytes;
  /** The upload of phases 2 and 3 (must stay under MAX_UPLOAD_BYTES). */
  photo12mp: Bytes;
  /** The source of the render burst. */
  photo24mp: Bytes;
  /** The source of the render-overhead phase (the reference case). */
  smooth12mp: Bytes;
}

export async function loadInputs(): Promise<LoadInputs> {
  const texture = await ensure("texture", `texture-${TEXTURE_WIDTH}x${TEXTURE_HEIGHT}.jpg`, TEXTURE_WIDTH, TEXTURE_HEIGHT, () =>
    sharp(texturePixels(TEXTURE_WIDTH, TEXTURE_HEIGHT), { raw: { width: TEXTURE_WIDTH, height: TEXTURE_HEIGHT, channels: 3 } })
      .jpeg({ quality: 90 })
      .toBuffer());
  // Same file names as bench/run.ts's inputs, so either run reuses what the other generated.
  const photo12mp = await ensure("12 MP photo", "photo-4000x3000.jpg", 4000, 3000, jpeg(4000, 3000, "photo", false));
  const photo24mp = await ensure("24 MP photo", "photo-6000x4000.jpg", 6000, 4000, jpeg(6000, 4000, "photo", false));
  const smooth12mp = await ensure("12 MP smooth base", "smooth-4000x3000.jpg", 4000, 3000, jpeg(4000, 3000, "smooth", false));
  const read = (input: BenchInput): Bytes => new Uint8Array(readFileSync(input.file));
  return { texture: read(texture), photo12mp: read(photo12mp), photo24mp: read(photo24mp), smooth12mp: read(smooth12mp) };
}
