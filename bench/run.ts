/**
 * Benchmark (not a test): our engine vs sharp vs naive jSquash, one thread, same outputs.
 *   npm run bench        (= node bench/run.ts under Node 22, after build:wasm); `npm run bench -- --only "100 MP PNG"`
 * Sets:  (a) "thumb"  — 320 px wide WebP q85;
 *        (b) "eager"  — 1366×768 scale-down WebP q85 ("public"), 320 px wide WebP q85 (thumbnail),
 *                       1366×768 scale-down JPEG q85 (fallback).
 * Times are medians of N runs after a warm-up pass over a small image. Peak memory for ours is the engine's
 * accounted peak (input + live rasters + the working codec's linear memory); for naive jSquash it is the sum of
 * its process-wide codec heaps after the row plus its live JS pixel buffers.
 */
import sharp from "sharp";
import { existsSync } from "node:fs";
import { renderTargets, CodecError, DEFAULT_MEMORY_BUDGET_BYTES, type RenderTarget, type RenderReport, type SourceInfo } from "../wasm/src/engine.ts";
import { kernels } from "../wasm/src/kernels.ts";
import { loadEngineModules } from "../wasm/src/modules.node.ts";
import type { Orientation } from "../wasm/src/raster.ts";
import { benchInputs, readInput, type BenchInput } from "./inputs.ts";
import { initNaive, naiveHeapBytes, renderNaive } from "./naive.ts";

sharp.concurrency(1);
sharp.cache(false);

const MB = 1024 * 1024;
const ISOLATE_BYTES = 128 * MB;
const QUALITY = 85;

interface Variant {
  label: string;
  width: number;
  height: number;
  format: "webp" | "jpeg";
}

function fitWithin(w: number, h: number, maxW: number, maxH: number): { width: number; height: number } {
  const s = Math.min(1, maxW / w, maxH / h);
  return { width: Math.max(1, Math.round(w * s)), height: Math.max(1, Math.round(h * s)) };
}

function variantSets(w: number, h: number): Record<"thumb" | "eager", Variant[]> {
  const thumb: Variant = { label: "thumb", format: "webp", ...fitWithin(w, h, 320, 100_000) };
  const pub = fitWithin(w, h, 1366, 768);
  return {
    thumb: [thumb],
    eager: [{ label: "public", format: "webp", ...pub }, thumb, { label: "fallback", format: "jpeg", ...pub }],
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timed<T>(n: number, fn: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const times: number[] = [];
  let result!: T;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    result = await fn();
    times.push(performance.now() - t0);
  }
  return { ms: median(times), result };
}

async function sharpRender(input: Uint8Array, variants: Variant[]): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (const v of variants) {
    const s = sharp(input, { limitInputPixels: false }).resize(v.width, v.height, { fit: "fill" });
    out.push(v.format === "webp" ? await s.webp({ quality: QUALITY }).toBuffer() : await s.flatten({ background: "#ffffff" }).jpeg({ quality: QUALITY }).toBuffer());
  }
  return out;
}

async function rgb(bytes: Uint8Array): Promise<Buffer> {
  return sharp(bytes).flatten({ background: "#ffffff" }).removeAlpha().raw().toBuffer();
}

function psnr(a: Uint8Array, b: Uint8Array): number {
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i] - b[i]) ** 2;
  return se === 0 ? 99 : 10 * Math.log10((255 * 255 * a.length) / se);
}

function iterations(input: BenchInput): number {
  const mp = (input.width * input.height) / 1e6;
  return mp <= 12 ? 3 : mp <= 30 ? 2 : 1;
}

const modules = await loadEngineModules();
const kernelsOn = !!(kernels.jpeg && modules.jpeg) || !!(kernels.resize && modules.resize);
await initNaive(modules);
// `--only TEXT` runs just the inputs whose name contains TEXT (on a shared machine, the rows you changed).
const only = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1] : undefined;
const inputs = await benchInputs((name) => !only || name.includes(only));

// Warm-up: JIT the TS resampler and the codec paths on a small image, for all three contenders.
{
  const small = await sharp({ create: { width: 800, height: 600, channels: 3, background: "#88aacc" } }).jpeg().toBuffer();
  const info: SourceInfo = { format: "jpeg", width: 800, height: 600, orientation: 1, hasAlpha: false };
  const sets = variantSets(800, 600);
  await renderTargets(small, info, sets.eager.map(toTarget), { modules, maxPixels: 1e9 });
  await sharpRender(small, sets.eager);
  await renderNaive(small, "jpeg", sets.eager.map((v) => ({ ...v, quality: QUALITY })));
}

function toTarget(v: Variant): RenderTarget {
  return { width: v.width, height: v.height, format: v.format, quality: QUALITY, metadata: "none", animate: true };
}

interface Row {
  input: string;
  set: string;
  ours: string;
  sharp: string;
  naive: string;
  ratio: string;
  oursPeak: string;
  naivePeak: string;
  psnr: string;
}
const rows: Row[] = [];
const fmtMs = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
const fmtMB = (b: number) => `${(b / MB).toFixed(0)}`;
const t0 = performance.now();

for (const input of inputs) {
  const bytes = readInput(input);
  const meta = await sharp(bytes).metadata();
  const format = meta.format === "png" || meta.format === "gif" || meta.format === "svg" ? meta.format : "jpeg";
  const source: SourceInfo = { format, width: meta.width!, height: meta.height!, orientation: (meta.orientation ?? 1) as Orientation, hasAlpha: !!meta.hasAlpha || format === "svg" };
  const n = iterations(input);
  // No naive contender for GIF or SVG (it decodes PNG and JPEG only); sharp's time there is of the first frame.
  const huge = input.width * input.height > 40e6 || format === "gif" || format === "svg";
  for (const [setName, variants] of Object.entries(variantSets(input.width, input.height))) {
    const targets = variants.map(toTarget);
    // Ours, within the default 96 MiB budget; when refused, once more with the budget lifted to show its time.
    let report: RenderReport | undefined;
    let oursNote = "";
    let ours: { ms: number; result: Uint8Array[] } | undefined;
    const run = (budget: number) => timed(n, async () =>
      (await renderTargets(bytes, source, targets, { modules, maxPixels: 100_000_000, memoryBudgetBytes: budget }, (r) => (report = r))).map((o) => o.bytes));
    try {
      ours = await run(DEFAULT_MEMORY_BUDGET_BYTES);
    } catch (e) {
      if (!(e instanceof CodecError && e.kind === "limit")) throw e;
      const needs = /needs (\d+) MB/.exec(e.message)?.[1];
      oursNote = `refused: needs ${needs} MB`;
      if (!huge) ours = await run(Number.MAX_SAFE_INTEGER);
    }
    const sharpRun = await timed(n, () => sharpRender(bytes, variants));
    let naive: { ms: number; result: { outputs: Uint8Array[]; jsPeakBytes: number } } | undefined;
    if (!huge) naive = await timed(n, () => renderNaive(bytes, format, variants.map((v) => ({ ...v, quality: QUALITY }))));
    const naivePeak = naive ? naiveHeapBytes() + naive.result.jsPeakBytes : undefined;

    const quality: string[] = [];
    if (ours) {
      for (let i = 0; i < variants.length; i++) {
        quality.push(`${variants[i].label} ${psnr(await rgb(ours.result[i]), await rgb(sharpRun.result[i])).toFixed(1)}`);
      }
    }
    rows.push({
      input: input.name,
      set: setName,
      ours: ours ? `${fmtMs(ours.ms)}${oursNote ? "*" : ""}` : oursNote,
      sharp: fmtMs(sharpRun.ms),
      naive: naive ? fmtMs(naive.ms) : "not run",
      ratio: ours ? `${(ours.ms / sharpRun.ms).toFixed(2)}×${oursNote ? "*" : ""}` : "–",
      oursPeak: report ? `${fmtMB(report.measuredPeakBytes)} / est ${fmtMB(report.plan.peakBytes)}${oursNote ? "*" : ""}` : oursNote,
      naivePeak: naivePeak !== undefined ? `${fmtMB(naivePeak)}${naivePeak > ISOLATE_BYTES ? " >128!" : ""}` : "–",
      psnr: quality.join(", ") || "–",
    });
    process.stderr.write(`  ${input.name} ${setName} done (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
  }
}

const header: Row = { input: "input", set: "set", ours: "ours", sharp: "sharp", naive: "naive jSq", ratio: "ours/sharp", oursPeak: "ours peak MB (meas/est)", naivePeak: "naive peak MB", psnr: "PSNR ours vs sharp (dB)" };
const cols = Object.keys(header) as Array<keyof Row>;
const width = Object.fromEntries(cols.map((c) => [c, Math.max(...[header, ...rows].map((r) => r[c].length))])) as Record<keyof Row, number>;
const line = (r: Row) => cols.map((c) => r[c].padEnd(width[c])).join(" | ");
console.log(`\nengine path: ${kernelsOn ? "our JPEG/resize kernels" : "jSquash fallback (mozjpeg full decode + TS Lanczos3)"}; wasm/build/jpeg.wasm ${existsSync(new URL("../wasm/build/jpeg.wasm", import.meta.url)) ? "present" : "absent"}, resize.wasm ${existsSync(new URL("../wasm/build/resize.wasm", import.meta.url)) ? "present" : "absent"}`);
console.log(`one thread (sharp.concurrency(1)); median of 3 (≤12 MP), 2 (24 MP), 1 (≥50 MP) after a warm-up; quality ${QUALITY}`);
console.log("thumb = 320 px wide WebP; eager = 1366×768 scale-down WebP + 320 px WebP + 1366×768 scale-down JPEG\n");
console.log(line(header));
console.log(cols.map((c) => "-".repeat(width[c])).join("-|-"));
for (const r of rows) console.log(line(r));
console.log(`\n* over the ${DEFAULT_MEMORY_BUDGET_BYTES / MB} MiB budget: the engine refuses it; the time shown is a rerun with the budget lifted.`);
console.log("naive peak = sum of jSquash's process-wide codec heaps after the row (they never shrink) + its live JS pixel buffers; '>128!' = over the isolate limit.");
console.log("naive jSquash is not run at ≥ 50 MP (minutes, and several hundred MB over the isolate limit).");
console.log(`total ${((performance.now() - t0) / 1000).toFixed(0)} s`);
