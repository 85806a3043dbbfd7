// Times the wasm JPEG decoder at each scale against sharp (libjpeg-turbo with shrink-on-load) on generated
// 4000×3000 baseline and progressive JPEGs. Prints best-of-7 wall and CPU times and their ratios, asserts
// nothing. Run: npx node bench/jpeg-decode.ts
import sharp from "sharp";
import { readFileSync } from "node:fs";
import { decodeJpeg } from "../wasm/src/jpeg.ts";
import type { JpegScale } from "../wasm/src/jpeg.ts";

// Workers load wasm precompiled (their types make Module abstract); Node compiles it from the bytes.
const compileModule = (bytes: Uint8Array) => new (WebAssembly.Module as unknown as new (b: Uint8Array) => WebAssembly.Module)(bytes);

const WIDTH = 4000;
const HEIGHT = 3000;
const RUNS = 7;

/** Photo-like content: smooth gradients, soft shapes and mild noise, so entropy data is realistic in size. */
function syntheticPhoto(w: number, h: number): Buffer {
  const raw = Buffer.alloc(w * h * 3);
  let seed = 1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const noise = ((seed >>> 16) & 31) - 16;
      const i = (y * w + x) * 3;
      const wave = 40 * Math.sin(x / 37) * Math.cos(y / 53);
      raw[i] = clamp(128 + 100 * Math.sin(x / 700) + wave + noise);
      raw[i + 1] = clamp(110 + 90 * Math.cos(y / 500) - wave + noise);
      raw[i + 2] = clamp(120 + 80 * Math.sin((x + y) / 900) + noise);
    }
  }
  return raw;
}

function clamp(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

interface Timing {
  /** Fastest wall-clock run: the least disturbed by other processes on a shared machine. */
  wall: number;
  /** Process CPU time of that run (user + system): robust to time-slicing, includes sharp's worker thread. */
  cpu: number;
}

async function time(fn: () => unknown): Promise<Timing> {
  await fn(); // warm-up (and wasm tier-up)
  let best: Timing = { wall: Infinity, cpu: Infinity };
  for (let i = 0; i < RUNS; i++) {
    const c = process.cpuUsage();
    const t = performance.now();
    await fn();
    const wall = performance.now() - t;
    const used = process.cpuUsage(c);
    const cpu = (used.user + used.system) / 1000;
    if (wall < best.wall) best = { wall, cpu };
  }
  return best;
}

function fmt(t: Timing): string {
  return `${t.wall.toFixed(1).padStart(6)} ms (cpu ${t.cpu.toFixed(1).padStart(6)})`;
}

const module = compileModule(readFileSync(new URL("../wasm/build/jpeg.wasm", import.meta.url)));
sharp.concurrency(1);
const raw = syntheticPhoto(WIDTH, HEIGHT);
for (const progressive of [false, true]) {
  const jpeg = await sharp(raw, { raw: { width: WIDTH, height: HEIGHT, channels: 3 } })
    .jpeg({ quality: 85, progressive, chromaSubsampling: "4:2:0" })
    .toBuffer();
  console.log(`${progressive ? "progressive" : "baseline"} 4:2:0 q85 ${WIDTH}x${HEIGHT}, ${(jpeg.length / 1e6).toFixed(2)} MB`);
  for (const scale of [1, 2, 4, 8] as JpegScale[]) {
    const ours = await time(() => decodeJpeg(module, jpeg, scale));
    const w = Math.ceil(WIDTH / scale);
    // sharp with shrink-on-load (libjpeg-turbo's scaled IDCT) for the scaled outputs.
    const theirs = await time(() => (scale === 1 ? sharp(jpeg).raw().toBuffer() : sharp(jpeg).resize(w).raw().toBuffer()));
    console.log(
      `  1/${scale}: wasm ${fmt(ours)}   sharp ${fmt(theirs)}   ratio wall ${(ours.wall / theirs.wall).toFixed(2)}, cpu ${(ours.cpu / theirs.cpu).toFixed(2)}`,
    );
  }
}
