/**
 * The codec engine: one call renders every variant of one original.
 *
 *   sniff → check limits → plan (DCT scale, cascade, memory) → decode once → for each target, largest first:
 *   the steps of steps/index.ts (resize + orient from the source or the previous, larger result, then the
 *   target's own steps) → encode.
 *
 * Pipeline steps never touch WASM memory directly: decoders live in the format modules (formats/, one table),
 * encoders behind encode.ts, kernels behind kernels.ts. The processor calls only `renderTargets`.
 */
import { CodecError } from "./errors.ts";
import type { Raster, Rect } from "./raster.ts";
import type { EngineModules } from "./modules.ts";
import type { RenderedOutput, RenderOptions, RenderTarget, SourceInfo } from "./targets.ts";
import { kernels } from "./kernels.ts";
import { placedByAttention, planRender, targetRegion, type PlanInput, type RenderPlan } from "./plan.ts";
import { analysisBytes, analysisSize, attentionPlacer, type AttentionPlacer } from "./saliency.ts";
import { findBorderRegion } from "./trim-border.ts";
import { CONTENT_TYPES, FORMATS, FORMAT_NAMES, sniffFormat, type DecodeContext, type DecodeResult } from "./formats/index.ts";
import * as codecs from "./codecs/instances.ts";
import { encodeRaster } from "./encode.ts";
import { isSourceStream, readSourceInto, type SourceStream } from "./source-stream.ts";
import { AVIF_MAX_DIMENSION, FILTER_NAMES, FLIPS, ROTATIONS, filterInRange } from "./vocabulary.ts";
import { REUSABLE_ENCODER_HEAP_BYTES, dropIdleWebpEncoder } from "./codecs/instances.ts";
import { orientedSize } from "./pixels.ts";
import { REUSABLE_STEPS, TARGET_STEPS, type StepContext } from "./steps/index.ts";
import { outputSize } from "./steps/step.ts";
import { exifForOutput } from "./metadata.ts";
import { convertsToSrgb, sourceColour, withKeptProfile } from "./icc/source-colour.ts";
import type { CmykConversion } from "./icc/cmyk.ts";
import { readAnimation } from "./animation/index.ts";
import { renderKeepingAnimation, wantsAnimation } from "./animation/render.ts";
import { placeholderOf } from "./placeholder.ts";

export type { OutputFormat, RenderTarget, RenderedOutput, SourceInfo, RenderOptions } from "./targets.ts";
export type { EngineModules } from "./modules.ts";
export type { Placeholder } from "./placeholder.ts";
export { AVIF_MAX_DIMENSION } from "./vocabulary.ts";
export { CodecError } from "./errors.ts";
export type { SourceStream } from "./source-stream.ts";

export const DEFAULT_MEMORY_BUDGET_BYTES = 96 * 1024 * 1024;

const MB = 1024 * 1024;
const mb = (n: number) => `${Math.ceil(n / MB)} MB`;

/** What one call did, for the bench and for logs. */
export interface RenderReport {
  plan: RenderPlan;
  /**
   * Accounted peak: the largest sum, at any step, of the input, live rasters, and the linear memory of the
   * codec instance working at that moment (plus the copy it was handed). Compare with `plan.peakBytes`.
   */
  measuredPeakBytes: number;
  /** Largest linear memory any single codec instance reached. */
  maxWasmHeapBytes: number;
  /**
   * Time spent decoding, resizing and encoding (all targets), by performance.now(). Deployed Workers advance the
   * clock only on I/O, so there these may read 0; in Node they are real.
   */
  timings: { decodeMs: number; resizeMs: number; encodeMs: number };
}

/** Running account of what is alive, for RenderReport.measuredPeakBytes. */
function memoryAccount() {
  const live = new Map<string, number>();
  let peak = 0, maxHeap = 0;
  return {
    set(name: string, bytes: number) {
      live.set(name, bytes);
      let sum = 0;
      for (const b of live.values()) sum += b;
      peak = Math.max(peak, sum);
    },
    heap(bytes: number) {
      maxHeap = Math.max(maxHeap, bytes);
    },
    drop(name: string) {
      live.delete(name);
    },
    get peak() { return peak; },
    get maxHeap() { return maxHeap; },
  };
}
const bufferBytes = (r: Raster) => r.data.buffer.byteLength;

function checkTarget(t: RenderTarget, i: number, oriented: { width: number; height: number }): void {
  const bad = (what: string) => new CodecError("limit", `target ${i}: ${what}`);
  const positiveInt = (n: number) => Number.isInteger(n) && n > 0;
  if (!positiveInt(t.width) || !positiveInt(t.height)) throw bad(`width and height must be positive integers, got ${t.width}×${t.height}`);
  if (!(t.quality >= 1 && t.quality <= 100)) throw bad(`quality must be 1..100, got ${t.quality}`);
  if (t.crop) {
    const c = t.crop;
    if (!(c.width > 0 && c.height > 0 && c.left >= 0 && c.top >= 0 && c.left + c.width <= oriented.width && c.top + c.height <= oriented.height)) {
      throw bad(`crop ${JSON.stringify(c)} is outside the ${oriented.width}×${oriented.height} oriented source`);
    }
  }
  if (t.cropPlacement) {
    const { strategy, within: w } = t.cropPlacement;
    if (strategy !== "attention") throw bad(`cropPlacement.strategy must be "attention", got ${JSON.stringify(strategy)}`);
    const fits = t.crop && t.crop.width <= w.width && t.crop.height <= w.height;
    if (!(fits && w.left >= 0 && w.top >= 0 && w.left + w.width <= oriented.width && w.top + w.height <= oriented.height)) {
      throw bad(`cropPlacement.within ${JSON.stringify(w)} must be inside the ${oriented.width}×${oriented.height} oriented source and hold the crop`);
    }
  }
  if (t.rotate !== undefined && !ROTATIONS.includes(t.rotate)) throw bad(`rotate must be one of ${ROTATIONS.join(", ")}, got ${t.rotate}`);
  if (t.flip !== undefined && !FLIPS.includes(t.flip)) throw bad(`flip must be one of ${FLIPS.join(", ")}, got ${t.flip}`);
  for (const name of t.filters ? FILTER_NAMES : []) {
    if (!filterInRange(name, t.filters![name])) throw bad(`${name} ${t.filters![name]} is out of its range (vocabulary.ts FILTERS)`);
  }
  if (t.canvas && !(positiveInt(t.canvas.width) && positiveInt(t.canvas.height))) throw bad("canvas must have positive integer size");
  if (t.border && ![t.border.top, t.border.right, t.border.bottom, t.border.left].every((n) => Number.isInteger(n) && n >= 0)) throw bad("border widths must be non-negative integers");
  const { width: outW, height: outH } = outputSize(t);
  if (t.format === "avif" && Math.max(outW, outH) > AVIF_MAX_DIMENSION) {
    throw bad(`AVIF output ${outW}×${outH} is over the ${AVIF_MAX_DIMENSION} px AVIF_MAX_DIMENSION limit`);
  }
}

/** Scales an oriented full-resolution rect into a raster of `rw × rh` oriented pixels covering `frame`. */
function mapRect(r: Rect, frame: Rect, rw: number, rh: number): Rect {
  const fx = rw / frame.width, fy = rh / frame.height;
  const left = Math.max(0, Math.min(rw - 1, Math.round((r.left - frame.left) * fx)));
  const top = Math.max(0, Math.min(rh - 1, Math.round((r.top - frame.top) * fy)));
  const right = Math.max(left + 1, Math.min(rw, Math.round((r.left + r.width - frame.left) * fx)));
  const bottom = Math.max(top + 1, Math.min(rh, Math.round((r.top + r.height - frame.top) * fy)));
  return { left, top, width: right - left, height: bottom - top };
}

const sameRect = (a: Rect, b: Rect) => a.left === b.left && a.top === b.top && a.width === b.width && a.height === b.height;

function lastIndexOf<T>(items: readonly T[], test: (item: T) => boolean): number {
  for (let i = items.length - 1; i >= 0; i--) if (test(items[i])) return i;
  return -1;
}

/** Frees an engine-owned buffer now where the runtime can (transferring it to an empty one detaches it). */
function releaseBuffer(bytes: Uint8Array): void {
  const buffer = bytes.buffer as ArrayBuffer & { transfer?: (length: number) => ArrayBuffer };
  buffer.transfer?.(0);
}

/** What a format module's decoder needs from the engine: the modules, the codec instantiators, the limits. */
export function decodeContext(modules: EngineModules, keepAlpha: boolean, maxPixels: number, cmyk?: CmykConversion): DecodeContext {
  return { modules, codecs, keepAlpha, maxPixels, cmyk };
}

/**
 * Renders every target from one decode of `input`. Outputs come back in the order of `targets`.
 * Throws CodecError: `unsupported` (not a format we decode), `corrupt` (damaged stream), `limit`
 * (pixels, memory budget, AVIF size).
 */
export async function renderTargets(
  original: Uint8Array | SourceStream,
  source: SourceInfo,
  targets: RenderTarget[],
  options: RenderOptions,
  report?: (r: RenderReport) => void,
): Promise<RenderedOutput[]> {
  const { modules, maxPixels } = options;
  const budget = options.memoryBudgetBytes ?? DEFAULT_MEMORY_BUDGET_BYTES;

  if (source.width * source.height > maxPixels) {
    throw new CodecError("limit", `source is ${source.width}×${source.height} = ${(source.width * source.height / 1e6).toFixed(1)} MP, over the maxPixels limit of ${(maxPixels / 1e6).toFixed(1)} MP`);
  }
  // A vector original is rendered from the raster its targets need (formats/svg.ts): from here on, that raster.
  const raster = FORMATS[source.format].rasterFor?.(source, targets, maxPixels);
  if (raster) ({ source, targets } = raster);
  const oriented = orientedSize(source.width, source.height, source.orientation);
  targets.forEach((t, i) => checkTarget(t, i, oriented));
  if (targets.length === 0) return [];

  // A streamed original goes straight where its decoder reads it (our JPEG kernel's memory) or into a buffer of
  // the engine's own, released after the decode: held once, never twice.
  const streamed = isSourceStream(original);
  if (streamed && original.byteLength > budget) {
    throw new CodecError("limit", `the ${mb(original.byteLength)} original alone is over the ${mb(budget)} memory budget (memoryBudgetBytes)`);
  }
  const inDecoderMemory = streamed ? FORMATS[source.format].inputMemory?.(original.byteLength, modules) : undefined;
  let input: Uint8Array;
  if (streamed) {
    input = inDecoderMemory ?? new Uint8Array(original.byteLength);
    await readSourceInto(original, input);
  } else {
    input = original;
  }

  const sniffed = sniffFormat(input);
  if (!sniffed) throw new CodecError("unsupported", `input is not a ${FORMAT_NAMES} image`);
  if (sniffed !== source.format) throw new CodecError("unsupported", `input is ${sniffed}, but the source info says ${source.format}`);

  // An animation kept: its targets are rendered frame by frame (animation/render.ts), the others from the first frame.
  const animation = targets.some(wantsAnimation) ? readAnimation(input, source.format) : undefined;
  if (animation) return renderKeepingAnimation(input, animation, source, targets, options, report);

  // One reading of the stream (for JPEG: one marker walk) serves the plan, the decoder and the EXIF.
  const reading = FORMATS[source.format].read(input, source, modules);
  // The embedded profile, parsed once, and its conversion to sRGB, built once for every target that needs it
  // (copied first when it views a streamed input, which is let go after the decode).
  const iccBytes = reading.iccProfile?.();
  const colour = sourceColour(streamed ? iccBytes?.slice() : iccBytes, reading.cmykPixels);
  const conversion = colour.conversion;
  const appliesTo = (t: RenderTarget) => convertsToSrgb(colour, t);
  const resizeKernel = kernels.resize && modules.resize ? kernels.resize.estimateResizeBytes : undefined;
  const planInput: PlanInput = {
    inputBytes: input.length, source, targets, resizeKernel, inputStreamed: streamed,
    colour: conversion && { convertsToSrgb: appliesTo, tableBytes: conversion.tableBytes },
  };
  // Decoders come fastest first; the first whose plan fits the budget is used (so a format with a fast
  // full-size decoder and a streaming one uses the streaming one only where the other cannot fit).
  const { decoders } = reading;
  const plans = decoders.map((d) => planRender(planInput, d));
  let choice = plans.findIndex((p) => p.peakBytes <= budget);
  if (choice < 0) {
    const best = plans.reduce((a, b) => (b.peakBytes < a.peakBytes ? b : a));
    const worst = best.phases.reduce((a, b) => (b.bytes > a.bytes ? b : a));
    throw new CodecError("limit", `rendering this ${source.width}×${source.height} ${source.format} needs ${mb(best.peakBytes)}, over the ${mb(budget)} memory budget (memoryBudgetBytes); peak at ${worst.phase}`);
  }
  let plan = plans[choice];
  // An idle WebP encoder kept from an earlier job sits outside this job's plan: keep (and reuse) it only when
  // the plan leaves room for it under the budget, else let it go before the decode needs the memory.
  let reuseEncoder = plan.peakBytes + REUSABLE_ENCODER_HEAP_BYTES <= budget;
  if (!reuseEncoder) dropIdleWebpEncoder(modules.webpEnc);
  const account = memoryAccount();
  account.set("input", input.length);
  const timings = { decodeMs: 0, resizeMs: 0, encodeMs: 0 };
  let clock = performance.now();
  const lap = (phase: keyof typeof timings) => {
    const now = performance.now();
    timings[phase] += now - clock;
    clock = now;
  };

  const context = decodeContext(modules, source.hasAlpha, maxPixels, colour.cmyk);
  // Read before a streamed input is let go (the format's reading may view it).
  const carriesExif = targets.some((t) => t.metadata !== "none" && (t.format === "jpeg" || t.format === "webp"));
  const exif = carriesExif ? (streamed ? reading.exif()?.slice() : reading.exif()) : undefined;
  let decoded: DecodeResult | undefined;
  for (;;) {
    try {
      decoded = await decoders[choice].decode(plan.scale, context);
      break;
    } catch (e) {
      // A decoder found something it does not handle past the header (e.g. our JPEG decoder meeting a DNL
      // marker): the next one, if its plan fits.
      if (!(e instanceof CodecError && e.kind === "unsupported")) throw e;
      const next = plans.findIndex((p, i) => i > choice && p.peakBytes <= budget);
      if (next < 0) {
        if (choice + 1 >= decoders.length) throw e;
        throw new CodecError("limit", `${e.message}; the ${decoders[choice + 1].name} fallback needs ${mb(plans[choice + 1].peakBytes)}, over the ${mb(budget)} memory budget (memoryBudgetBytes)`);
      }
      [choice, plan] = [next, plans[next]];
      if (plan.peakBytes + REUSABLE_ENCODER_HEAP_BYTES > budget) {
        reuseEncoder = false;
        dropIdleWebpEncoder(modules.webpEnc);
      }
    }
  }
  lap("decodeMs");
  if (streamed) {
    // Decoded: the engine's own copy goes now, without waiting for a GC (a file in the decoder's memory is in its
    // heap, accounted there, and goes with the instance).
    if (!inDecoderMemory) releaseBuffer(input);
    input = new Uint8Array(0);
    account.drop("input");
  }
  account.heap(decoded.decoderHeapBytes);
  account.set("source", bufferBytes(decoded.raster));
  if (decoded.decoderHeapBytes !== bufferBytes(decoded.raster)) account.set("codec", decoded.decoderHeapBytes);
  account.drop("codec"); // the decoder instance is unreachable once decodeSource returned
  let sourceRaster: Raster | undefined = decoded.raster;
  decoded = undefined;
  if (sourceRaster.width !== plan.decodedWidth || sourceRaster.height !== plan.decodedHeight) {
    throw new CodecError("corrupt", `decoded ${sourceRaster.width}×${sourceRaster.height}, expected ${plan.decodedWidth}×${plan.decodedHeight} from the header`);
  }
  const fullFrame: Rect = { left: 0, top: 0, width: oriented.width, height: oriented.height };
  const decodedOriented = orientedSize(sourceRaster.width, sourceRaster.height, source.orientation);
  // The placeholder comes from the smallest content showing the whole picture (the cascade runs largest first),
  // else from the decoded source, before anything lets it go.
  const placeholderStep = options.placeholder ? lastIndexOf(plan.steps, (s) => sameRect(s.region, fullFrame)) : -1;
  if (options.placeholder && placeholderStep < 0) {
    const whole = mapRect(fullFrame, fullFrame, decodedOriented.width, decodedOriented.height);
    options.placeholder(await placeholderOf(sourceRaster, source.orientation, whole, oriented, modules));
  }

  // gravity=auto: one analysis of the decoded source places every attention crop (saliency.ts). Made before the
  // first target, while the source is alive for all of them (a crop refitted to a border trim asks for it later,
  // from a step that reads the source anyway).
  let attention: Promise<AttentionPlacer> | undefined;
  const attentionCrops = () => (attention ??= (async () => {
    const analysed = analysisSize(decodedOriented.width, decodedOriented.height);
    account.set("attention analysis", analysisBytes(analysed.width, analysed.height, sourceRaster!.channels));
    const placer = await attentionPlacer(sourceRaster!, source.orientation, oriented, modules);
    account.drop("attention analysis");
    return placer;
  })());
  if (plan.steps.some((s) => placedByAttention(s.target))) await attentionCrops();

  const outputs: RenderedOutput[] = new Array(targets.length);
  let previous: { content: Raster; region: Rect } | undefined;
  for (const step of plan.steps) {
    let { target, region } = step;
    if (target.trimBorder) {
      // The border is found in the full-size decode (chooseDecodeScale), so its region is in source pixels.
      region = findBorderRegion(sourceRaster!, source.orientation, target.trimBorder);
      target = target.trimBorder.refit(region);
      checkTarget(target, step.index, oriented);
      region = targetRegion(target, source);
    }
    if (placedByAttention(target)) {
      region = (await attentionCrops())(region, target.cropPlacement!.within);
      target = { ...target, crop: region };
    }
    // The reusable steps (resize) run from the source or from the previous target's content; "same" takes that
    // content as it is. The rest run for this target alone (steps/index.ts).
    let image: Raster, first: number, context: StepContext;
    if (step.from === "same" && previous) {
      [image, first] = [previous.content, REUSABLE_STEPS];
      context = { modules, orientation: 1, crop: { left: 0, top: 0, width: image.width, height: image.height } };
    } else if (step.from === "previous" && previous) {
      [image, first] = [previous.content, 0];
      context = { modules, orientation: 1, crop: mapRect(region, previous.region, image.width, image.height) };
    } else {
      [image, first] = [sourceRaster!, 0];
      context = {
        modules, orientation: source.orientation, crop: mapRect(region, fullFrame, decodedOriented.width, decodedOriented.height),
        // Content taken from another target above was converted (or kept) there already: only the source's is converted.
        colour: conversion && { conversion, appliesTo, source: sourceRaster },
      };
    }
    for (let i = first; i < REUSABLE_STEPS; i++) image = await TARGET_STEPS[i].run(image, target, context);
    const content = image;
    if (options.placeholder && plan.steps[placeholderStep] === step) {
      options.placeholder(await placeholderOf(content, 1, { left: 0, top: 0, width: content.width, height: content.height }, oriented, modules));
    }
    lap("resizeMs");
    account.set("content", bufferBytes(content));
    // Free big buffers as soon as nothing later needs them.
    if (!step.sourceNeededAfter) {
      sourceRaster = undefined;
      account.drop("source");
    }
    if (step.from !== "source") account.drop("previous");

    let out = content;
    for (let i = REUSABLE_STEPS; i < TARGET_STEPS.length; i++) {
      const next = await TARGET_STEPS[i].run(out, target, context);
      if (next !== out) account.set("output raster", bufferBytes(next));
      out = next;
    }
    const carried = target.format === "jpeg" || target.format === "webp" ? exifForOutput(exif, target.metadata) : undefined;
    const encoded = await encodeRaster(out, target.format, target.quality, modules, carried, { reuseEncoder, fast: target.compression === "fast" });
    encoded.bytes = withKeptProfile(colour, target, encoded.bytes, out);
    lap("encodeMs");
    account.heap(encoded.workBytes);
    account.set("codec", encoded.workBytes + encoded.bytes.length);
    account.drop("codec");
    account.drop("output raster");
    account.set("outputs", (outputs.reduce((n, o) => n + o.bytes.length, 0)) + encoded.bytes.length);
    outputs[step.index] = { bytes: encoded.bytes, width: out.width, height: out.height, format: target.format, contentType: CONTENT_TYPES[target.format] };

    previous = step.keepForNext ? { content, region } : undefined;
    account.drop("content");
    if (previous) account.set("previous", bufferBytes(content));
  }
  report?.({ plan, measuredPeakBytes: account.peak, maxWasmHeapBytes: account.maxHeap, timings });
  return outputs;
}
