// Resize kernel against sharp/libvips on the same raw input, single-threaded.
// Run: npm run build:wasm && npx node bench/resize.ts
import { readFileSync } from "node:fs";
import sharp from "sharp";
import { resize } from "../wasm/src/resize.ts";
import type { Raster } from "../wasm/src/raster.ts";

/** Node's WebAssembly.compile; the project's types describe the Workers runtime, which has no compile. */
const compileWasm = (WebAssembly as unknown as { compile(bytes: Uint8Array): Promise<WebAssembly.Module> }).compile;

sharp.concurrency(1);
sharp.cache(false);

const module = await compileWasm(readFileSync(new URL("../wasm/build/resize.wasm", import.meta.url)));

/** A photo-like synthetic scene: gradients, a low-frequency pattern and a little noise. */
function scene(width: number, height: number, channels: 3 | 4): Raster {
  const data = new Uint8Array(width * height * channels);
  let seed = 12345;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const noise = (seed >>> 24) / 32 - 4;
      const i = (y * width + x) * channels;
      data[i] = (x * 255) / width + noise;
      data[i + 1] = (y * 255) / height + noise;
      data[i + 2] = 128 + 100 * Math.sin(x / 37) * Math.cos(y / 53) + noise;
      if (channels === 4) data[i + 3] = 255 - ((x * 64) / width);
    }
  }
  return { data, width, height, channels };
}

/** Best and median of `runs` timings: the machine is shared, so the best run is the steadier figure. */
async function time(runs: number, fn: () => unknown): Promise<{ best: number; median: number }> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { best: times[0], median: times[times.length >> 1] };
}

const cases: [number, number, number, number][] = [
  [4000, 3000, 320, 240],
  [4000, 3000, 1366, 1025],
  [500, 375, 320, 240],
];

const ms = (t: { best: number; median: number }) => `${t.best.toFixed(1)} (${t.median.toFixed(1)})`.padStart(15);
console.log(`${"case".padEnd(30)}${"ours ms".padStart(15)}${" ".repeat(9)}${"sharp ms".padStart(15)}${"ours/sharp".padStart(18)}`);
console.log(`${"".padEnd(30)}${"best (median)".padStart(15)}${" ".repeat(9)}${"best (median)".padStart(15)}${"(best)".padStart(18)}`);
for (const [w, h, tw, th] of cases) {
  for (const channels of [3, 4] as const) {
    const src = scene(w, h, channels);
    const runs = w * h > 1e6 ? 9 : 31;
    const ours = async () => resize(module, src, tw, th);
    const ref = async () =>
      sharp(src.data, { raw: { width: w, height: h, channels } })
        .resize(tw, th, { kernel: "lanczos3", fit: "fill" })
        .raw()
        .toBuffer();
    await ours();
    await ref();
    const a = await time(runs, ours);
    const b = await time(runs, ref);
    const label = `${w}x${h} → ${tw}x${th} ${channels === 3 ? "RGB " : "RGBA"}`;
    console.log(`${label.padEnd(30)}${ms(a)}${" ".repeat(9)}${ms(b)}${(a.best / b.best).toFixed(2).padStart(18)}`);
  }
}
