/**
 * Benchmark (not a test): our engine vs sharp vs naive jSquash, one thread, same outputs.
 *   npm run bench        (= node bench/run.ts under Node 22, after build:wasm); `npm run bench -- --only "100 MP PNG"`
 *   `npm run bench -- --chain [--only "12 MP"]`: only the "chain" rows (Cloudflare options chained, see below).
 * Sets:  (a) "thumb"  — 320 px wide WebP q85;
 *        (b) "eager"  — 1366×768 scale-down WebP q85 ("public"), 320 px wide WebP q85 (thumbnail),
 *                       1366×768 scale-down JPEG q85 (fallback).
 * Times are medians of N runs after a warm-up pass over a small image. Peak memory for ours is the engine's
 * accounted peak (input + live rasters + the working codec's linear memory); for naive jSquash it is the sum of
 * its process-wide codec heaps after the row plus its live JS pixel buffers.
 */
import sharp from "sharp";
import { existsSync, readFileSync } from "node:fs";
import { renderTargets, CodecError, DEFAULT_MEMORY_BUDGET_BYTES, type RenderTarget, type RenderReport, type SourceInfo } from "../wasm/src/engine.ts";
import { kernels } from "../wasm/src/kernels.ts";
import { loadEngineModules } from "../wasm/src/modules.node.ts";
import type { Orientation } from "../wasm/src/raster.ts";
import { benchInputs, readInput, type BenchInput } from "./inputs.ts";
import { renderTargetsOf } from "../workers/shared/eager-set.ts";
import { parseFlexibleOptions } from "../workers/shared/transform.ts";
import { initNaive, naiveHeapBytes, renderNaive } from "./naive.ts";
import { NO_FILTERS } from "../wasm/src/vocabulary.ts";
import { blurSigma } from "../wasm/src/steps/blur.ts";
import { sharpenParameters } from "../wasm/src/steps/sharpen.ts";
import { irot, readCodedTile, tiledHeif } from "../test/fixtures/heic/heif-mux.ts";
import { subjectOnFlat } from "../test/fixtures/saliency.ts";

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
  // A lossy WebP too, so our WebP decoder's hot loops are past V8's baseline tier before its rows.
  const smallWebp = await sharp({ create: { width: 800, height: 600, channels: 3, background: "#000000", noise: { type: "gaussian", mean: 128, sigma: 40 } } }).webp().toBuffer();
  await renderTargets(smallWebp, { ...info, format: "webp" }, sets.eager.map(toTarget), { modules, maxPixels: 1e9 });
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

// --chain: rotate + trim + border + resize, through the option parser and eager-set targets as delivery renders
// them, against sharp's same chain (trim and rotate commute here: the trim is the same 5% on every side).
const CHAIN = "rotate=90,trim=T;T;T;T,w=800,border=%23000000;8,f=webp";
const chainOnly = process.argv.includes("--chain");
for (const input of chainOnly ? inputs.filter((i) => i.width * i.height <= 30e6 && !/PNG|GIF/.test(i.name)) : []) {
  const bytes = readInput(input);
  const meta = await sharp(bytes).metadata();
  const source: SourceInfo = { format: "jpeg", width: meta.width!, height: meta.height!, orientation: 1, hasAlpha: false };
  const t = Math.round(Math.min(source.width, source.height) * 0.05);
  const segment = CHAIN.replaceAll("T", String(t));
  const targets = renderTargetsOf(source, [{ transform: parseFlexibleOptions(segment), format: "webp", fingerprint: "", variant: null }]);
  const n = iterations(input);
  let report: RenderReport | undefined;
  const ours = await timed(n, async () => (await renderTargets(bytes, source, targets, { modules, maxPixels: 100_000_000 }, (r) => (report = r)))[0].bytes);
  const [rw, rh] = [source.height - 2 * t, source.width - 2 * t]; // after the quarter turn
  const sharpRun = await timed(n, async () => {
    const resized = await sharp(bytes).rotate(90).extract({ left: t, top: t, width: rw, height: rh }).resize(800).png().toBuffer();
    return sharp(resized).extend({ top: 8, right: 8, bottom: 8, left: 8, background: "#000000" }).webp({ quality: QUALITY }).toBuffer();
  });
  rows.push({
    input: input.name,
    set: "chain",
    ours: fmtMs(ours.ms),
    sharp: fmtMs(sharpRun.ms),
    naive: "not run",
    ratio: `${(ours.ms / sharpRun.ms).toFixed(2)}×`,
    oursPeak: report ? `${fmtMB(report.measuredPeakBytes)} / est ${fmtMB(report.plan.peakBytes)}` : "–",
    naivePeak: "–",
    psnr: `chain ${psnr(await rgb(ours.result), await rgb(sharpRun.result)).toFixed(1)}`,
  });
  process.stderr.write(`  ${input.name} chain done (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
}

for (const input of chainOnly ? [] : inputs) {
  const bytes = readInput(input);
  const meta = await sharp(bytes).metadata();
  const format = meta.format === "png" || meta.format === "gif" || meta.format === "webp" || meta.format === "svg" ? meta.format : "jpeg";
  const source: SourceInfo = { format, width: meta.width!, height: meta.height!, orientation: (meta.orientation ?? 1) as Orientation, hasAlpha: !!meta.hasAlpha || format === "svg" };
  const n = iterations(input);
  // No naive contender for GIF, WebP or SVG (it decodes PNG and JPEG only) nor CMYK (jSquash's mozjpeg refuses it);
  // sharp's time for a GIF is of the first frame.
  const huge = input.width * input.height > 40e6 || format === "gif" || format === "webp" || format === "svg" || meta.space === "cmyk";
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

/** One render of `targets`' first output, ours vs `theirs` (sharp doing the same), 3 runs each, as one table row. */
async function compareOne(input: string, set: string, bytes: Uint8Array, source: SourceInfo, targets: RenderTarget[], theirs: () => Promise<Uint8Array>): Promise<void> {
  let report: RenderReport | undefined;
  const ours = await timed(3, async () => (await renderTargets(bytes, source, targets, { modules, maxPixels: 100_000_000 }, (r) => (report = r)))[0].bytes);
  const sharpRun = await timed(3, theirs);
  rows.push({
    input,
    set,
    ours: fmtMs(ours.ms),
    sharp: fmtMs(sharpRun.ms),
    naive: "not run",
    ratio: `${(ours.ms / sharpRun.ms).toFixed(2)}×`,
    oursPeak: `${fmtMB(report!.measuredPeakBytes)} / est ${fmtMB(report!.plan.peakBytes)}`,
    naivePeak: "–",
    psnr: `${set} ${psnr(await rgb(ours.result), await rgb(sharpRun.result)).toFixed(1)}`,
  });
  process.stderr.write(`  ${input} ${set} done (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
}

// The chained transform, rotate + trim + blur + sharpen + resize, on one 12 MP photo, through the option
// parser and eager-set targets as delivery renders it, vs sharp doing the same chain (rotate and trim commute here:
// the trim is the same 5% on every side). `--only chained` runs just this row.
if (!only || "chained".includes(only)) {
  const [input] = await benchInputs((name) => name === "12 MP smooth base");
  const bytes = readInput(input);
  const source: SourceInfo = { format: "jpeg", width: input.width, height: input.height, orientation: 1, hasAlpha: false };
  const t = Math.round(Math.min(source.width, source.height) * 0.05);
  const transform = parseFlexibleOptions(`rotate=90,trim=${t};${t};${t};${t},blur=5,sharpen=1,w=768,f=webp`);
  const targets = renderTargetsOf(source, [{ transform, format: "webp", fingerprint: "", variant: null }]);
  const { sigma, m1, m2, x1, y2, y3 } = sharpenParameters(transform.filters.sharpen);
  const [rw, rh] = [source.height - 2 * t, source.width - 2 * t]; // after the quarter turn
  await compareOne(input.name, "chained", bytes, source, targets, () => sharp(bytes).rotate(90).extract({ left: t, top: t, width: rw, height: rh }).resize(768)
    .blur({ sigma: blurSigma(transform.filters.blur), minAmplitude: 0.001, precision: "float" }).sharpen({ sigma, m1, m2, x1, y2, y3 })
    .webp({ quality: QUALITY }).toBuffer());
}

// A named variant with a watermark (draw): one 12 MP photo to a 1366×768 WebP with a 20 %-wide layer drawn 16 px
// from the bottom-right corner, vs sharp's resize + composite. The layer's raster is made once, as the processor
// renders it once per size. `--only watermark` runs just this row.
if (!only || "watermark".includes(only)) {
  const [input] = await benchInputs((name) => name === "12 MP smooth base");
  const bytes = readInput(input);
  const source: SourceInfo = { format: "jpeg", width: input.width, height: input.height, orientation: 1, hasAlpha: false };
  const [w, h] = [1366, Math.round((1366 * input.height) / input.width)];
  const [lw, lh] = [Math.round(w * 0.2), Math.round(w * 0.2 * 0.75)];
  const layer = new Uint8Array(lw * lh * 4);
  for (let y = 0; y < lh; y++) for (let x = 0; x < lw; x++) {
    const inside = Math.hypot((x - lw / 2) / (lw / 2), (y - lh / 2) / (lh / 2)) <= 1;
    layer.set([255, 0, 0, inside ? 255 : 0], (y * lw + x) * 4);
  }
  const target: RenderTarget = {
    width: w, height: h, format: "webp", quality: QUALITY, metadata: "none",
    draw: [{ raster: { data: layer, width: lw, height: lh, channels: 4 }, placement: { bottom: 16, right: 16 } }],
  };
  await compareOne(input.name, "watermark", bytes, source, [target], async () => sharp(await sharp(bytes).resize(w, h).toBuffer())
    .composite([{ input: Buffer.from(layer), raw: { width: lw, height: lh, channels: 4 }, left: w - lw - 16, top: h - lh - 16 }])
    .webp({ quality: QUALITY }).toBuffer());
}

// gravity=auto: a 400×400 attention crop (analysis, window search, resize, encode) vs sharp's `position:
// "attention"`, on a 12 MP subject made for it (test/fixtures/saliency.ts: a 500 px skin-toned subject near the
// bottom-right corner of flat grey) and on the smooth 12 MP photo, which has no subject. The PSNR compares the two
// crops' pixels: high only where both chose about the same window. `--only attention` runs just these rows.
if (!only || "attention".includes(only)) {
  const [smooth] = await benchInputs((name) => name === "12 MP smooth base");
  const subject = await subjectOnFlat(4000, 3000, { left: 3300, top: 2300, size: 500 }, "jpeg");
  for (const [name, bytes] of [["12 MP subject", subject], [smooth.name, readInput(smooth)]] as const) {
    const meta = await sharp(bytes).metadata();
    const source: SourceInfo = { format: "jpeg", width: meta.width!, height: meta.height!, orientation: 1, hasAlpha: false };
    const targets = renderTargetsOf(source, [{ transform: parseFlexibleOptions("fit=cover,w=400,h=400,g=auto,f=webp"), format: "webp", fingerprint: "", variant: null }]);
    await compareOne(name, "attention", bytes, source, targets, () => sharp(bytes).resize(400, 400, { fit: "cover", position: "attention" }).webp({ quality: QUALITY }).toBuffer());
  }
}

// HEIC: sharp's prebuilt libheif has no HEVC decoder, so ours alone. The grids repeat one committed 512×512
// tile (test/fixtures/heic), as an iPhone tiles a 12 MP (8×6) or 48 MP (16×12) photo, irot 270 (portrait); a
// smooth tile decodes faster than a photo's, so the times are a lower bound.
for (const [name, columns, rows_, width, height] of [["12 MP HEIC grid", 8, 6, 4032, 3024], ["48 MP HEIC grid", 16, 12, 8064, 6048]] as const) {
  if (only && !name.includes(only)) continue;
  const tile = readCodedTile(new Uint8Array(readFileSync(new URL("../test/fixtures/heic/tile-512x512.heic", import.meta.url))));
  const bytes = tiledHeif(tile, columns, rows_, width, height, [irot(3)]);
  const source: SourceInfo = { format: "heic", width, height, orientation: 6, hasAlpha: false };
  for (const [setName, variants] of Object.entries(variantSets(height, width))) {
    let report: RenderReport | undefined;
    const ours = await timed(width * height > 20e6 ? 1 : 3, () =>
      renderTargets(bytes, source, variants.map(toTarget), { modules, maxPixels: 100_000_000 }, (r) => (report = r)));
    rows.push({
      input: name, set: setName, ours: fmtMs(ours.ms), sharp: "no HEVC", naive: "not run", ratio: "–",
      oursPeak: `${fmtMB(report!.measuredPeakBytes)} / est ${fmtMB(report!.plan.peakBytes)}`, naivePeak: "–", psnr: `decoded at 1/${report!.plan.scale}`,
    });
    process.stderr.write(`  ${name} ${setName} done (${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
  }
}

const header: Row = { input: "input", set: "set", ours: "ours", sharp: "sharp", naive: "naive jSq", ratio: "ours/sharp", oursPeak: "ours peak MB (meas/est)", naivePeak: "naive peak MB", psnr: "PSNR ours vs sharp (dB)" };
const cols = Object.keys(header) as Array<keyof Row>;
const width = Object.fromEntries(cols.map((c) => [c, Math.max(...[header, ...rows].map((r) => r[c].length))])) as Record<keyof Row, number>;
const line = (r: Row) => cols.map((c) => r[c].padEnd(width[c])).join(" | ");
console.log(`\nengine path: ${kernelsOn ? "our JPEG/resize kernels" : "jSquash fallback (mozjpeg full decode + TS Lanczos3)"}; wasm/build/jpeg.wasm ${existsSync(new URL("../wasm/build/jpeg.wasm", import.meta.url)) ? "present" : "absent"}, resize.wasm ${existsSync(new URL("../wasm/build/resize.wasm", import.meta.url)) ? "present" : "absent"}`);
console.log(`one thread (sharp.concurrency(1)); median of 3 (≤12 MP), 2 (24 MP), 1 (≥50 MP) after a warm-up; quality ${QUALITY}`);
console.log("thumb = 320 px wide WebP; eager = 1366×768 scale-down WebP + 320 px WebP + 1366×768 scale-down JPEG; chained = rotate=90, trim 5% a side, blur=5, sharpen=1 to a 768 px wide WebP; watermark = 1366 px WebP with a 20 %-wide layer drawn over it; attention = fit=cover,w=400,h=400,g=auto WebP\n");
console.log(line(header));
console.log(cols.map((c) => "-".repeat(width[c])).join("-|-"));
for (const r of rows) console.log(line(r));
console.log(`\n* over the ${DEFAULT_MEMORY_BUDGET_BYTES / MB} MiB budget: the engine refuses it; the time shown is a rerun with the budget lifted.`);
console.log("naive peak = sum of jSquash's process-wide codec heaps after the row (they never shrink) + its live JS pixel buffers; '>128!' = over the isolate limit.");
console.log("naive jSquash is not run at ≥ 50 MP (minutes, and several hundred MB over the isolate limit).");
console.log(`total ${((performance.now() - t0) / 1000).toFixed(0)} s`);
