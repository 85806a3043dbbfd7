/**
 * Planning step, before any decode: which decoder and DCT scale, in which order the targets are produced and
 * from what (the cascade), and the estimated peak memory of the whole call. "Check size before decode":
 * a call that would not fit the budget is refused here, by name, instead of crashing the isolate.
 */
import type { Orientation, Rect } from "./raster.ts";
import type { RenderTarget, SourceInfo } from "./targets.ts";
import type { JpegScale } from "./kernels.ts";
import type { SourceDecoder } from "./formats/types.ts";
import { orientedSize } from "./pixels.ts";
import { orientedRectToStored as rectToStored } from "./orient.ts";
import { TARGET_STEPS } from "./steps/index.ts";
import { outputPixels } from "./steps/step.ts";
import { analysisBytes, analysisSize } from "./saliency.ts";

const MiB = 1024 * 1024;

export interface TargetStep {
  /** Index of the target in the caller's array (outputs keep that order). */
  index: number;
  target: RenderTarget;
  /** The region of the oriented full-resolution source this output shows. */
  region: Rect;
  /**
   * Where the content comes from: a resize of the decoded source, a resize of the previous step's content
   * (the cascade), or the previous step's content as is (same region and size, e.g. a WebP and its JPEG fallback).
   */
  from: "source" | "previous" | "same";
  /** Whether the next step resizes from this step's content, so it must be kept. */
  keepForNext: boolean;
  /** Whether the decoded source is still needed after this step. */
  sourceNeededAfter: boolean;
}

export interface RenderPlan {
  /** The decoder's name (its format module's SourceDecoder). */
  decoder: string;
  scale: JpegScale;
  /** Size of the decoded raster (stored orientation). */
  decodedWidth: number;
  decodedHeight: number;
  steps: TargetStep[];
  peakBytes: number;
  /** Estimated bytes per phase, for the error message and the bench. */
  phases: Array<{ phase: string; bytes: number }>;
}

export interface PlanInput {
  inputBytes: number;
  /**
   * The engine read the input from a stream (source-stream.ts): it holds it only until it is decoded, and a
   * decoder that `holdsInput` has it in its own memory only.
   */
  inputStreamed?: boolean;
  source: SourceInfo;
  targets: RenderTarget[];
  /** Peak bytes of one kernel resize, when the resize kernel is in use (else the TS resampler's estimate). */
  resizeKernel?: (srcW: number, srcH: number, channels: 3 | 4, dstW: number, dstH: number) => number;
  /** The source's conversion to sRGB (icc/source-colour.ts): which targets it converts, and its tables' bytes. */
  colour?: { convertsToSrgb(target: RenderTarget): boolean; tableBytes: number };
}

/** The oriented full-resolution region a target shows. */
export function targetRegion(target: RenderTarget, source: SourceInfo): Rect {
  const { width, height } = orientedSize(source.width, source.height, source.orientation);
  return target.crop ?? { left: 0, top: 0, width, height };
}

/**
 * Orders targets largest-first and links each to the previous one when the previous content covers its region
 * at ≥ 2× its size in both directions (then resizing from it loses nothing visible and is much cheaper).
 */
export function planCascade(targets: RenderTarget[], source: SourceInfo, colour?: PlanInput["colour"]): TargetStep[] {
  const order = targets
    .map((target, index) => ({ target, index, region: targetRegion(target, source) }))
    .sort((a, b) => b.target.width * b.target.height - a.target.width * a.target.height || a.index - b.index);
  const steps: TargetStep[] = order.map((o) => ({ ...o, from: "source", keepForNext: false, sourceNeededAfter: false }));
  for (let i = 1; i < steps.length; i++) {
    const prev = steps[i - 1], cur = steps[i];
    // A border trim's region is found after the decode: such a target neither feeds nor is fed by another.
    if (prev.target.trimBorder || cur.target.trimBorder) continue;
    // Converted content cannot feed a target that keeps the source's profile, nor the other way round.
    if (colour && colour.convertsToSrgb(prev.target) !== colour.convertsToSrgb(cur.target)) continue;
    const p = prev.region, r = cur.region;
    // An attention crop is placed only after the decode (saliency.ts), the same way for the same size and bounds:
    // it shares the content of such a crop, and is cut from a previous content covering all of its bounds, but
    // nothing else is cut from it (its region here is only the centred stand-in).
    const [pa, ca] = [prev.target.cropPlacement, cur.target.cropPlacement];
    if (sameRect(r, p) && cur.target.width === prev.target.width && cur.target.height === prev.target.height &&
      (pa && ca ? sameRect(pa.within, ca.within) : !pa && !ca)) {
      cur.from = "same";
      prev.keepForNext = true;
      continue;
    }
    if (pa) continue;
    if (!covers(p, ca ? ca.within : r)) continue;
    const mappedW = (r.width * prev.target.width) / p.width;
    const mappedH = (r.height * prev.target.height) / p.height;
    if (mappedW >= 2 * cur.target.width && mappedH >= 2 * cur.target.height) {
      cur.from = "previous";
      prev.keepForNext = true;
    }
  }
  const lastSourceUse = steps.reduce((last, s, i) => (s.from === "source" ? i : last), -1);
  steps.forEach((s, i) => (s.sourceNeededAfter = i < lastSourceUse));
  return steps;
}

/** Whether the engine places this target's crop itself, after the decode (gravity=auto). */
export function placedByAttention(target: RenderTarget): boolean {
  return target.cropPlacement?.strategy === "attention" && target.crop !== undefined;
}

const sameRect = (a: Rect, b: Rect) => a.left === b.left && a.top === b.top && a.width === b.width && a.height === b.height;
const covers = (outer: Rect, r: Rect) =>
  r.left >= outer.left && r.top >= outer.top && r.left + r.width <= outer.left + outer.width && r.top + r.height <= outer.top + outer.height;

/** Decoded pixels needed, per stored axis, so that no target is upscaled from the decode. */
function neededScale(steps: TargetStep[], source: SourceInfo, scale: number): boolean {
  const dw = Math.ceil(source.width / scale), dh = Math.ceil(source.height / scale);
  return steps.every(({ target, region }) => {
    const stored = rectToStored(region, source.orientation, source.width, source.height);
    const out = orientedSize(target.width, target.height, source.orientation);
    return (stored.width * dw) / source.width >= out.width && (stored.height * dh) / source.height >= out.height;
  });
}

/**
 * Encoder linear memory plus the RGBA copy handed to it, for `n` output pixels. Calibrated on downscaled photos
 * and on downscaled per-pixel noise at ~1 MP: libwebp and mozjpeg stay inside their initial 16 MiB, aom grows by
 * ~23·n. The estimate adds 8·n (WebP), 6·n (JPEG), 24·n (AVIF), 24·n (PNG). Trade-off: a synthetic full-entropy
 * image (independent noise in every output pixel) grows libwebp to 16 MiB + 25·n, ~17 MB over this at 1 MP;
 * the 32 MB between the 96 MiB budget and the 128 MB isolate absorbs that, where budgeting every render for
 * pure noise would refuse ordinary 50 MP photos.
 */
export function encoderBytes(format: RenderTarget["format"], n: number): number {
  const heap = format === "jpeg" ? 17 * MiB + 6 * n : format === "webp" ? 16 * MiB + 8 * n : format === "avif" ? 16 * MiB + 24 * n : 1 * MiB + 24 * n;
  return heap + 4 * n;
}

/** Transient bytes of one resize from a `srcW × srcH` region to `w × h` (box stage, 8-bit intermediate, output, orient). */
function resizeBytes(srcW: number, srcH: number, w: number, h: number, c: number): number {
  const ky = Math.max(1, Math.floor(srcH / h / 2)), kx = Math.max(1, Math.floor(srcW / w / 2));
  const box = kx > 1 || ky > 1 ? Math.ceil(srcW / kx) * Math.ceil(srcH / ky) * c : 0;
  return box + w * Math.ceil(srcH / ky) * c + 2 * w * h * c;
}

/**
 * The plan of one call with one decoder: its scale (shrink-on-load), its decode phase from the decoder's
 * memory model (its format module's), then each target's phase in cascade order.
 */
export function planRender(p: PlanInput, decoder: SourceDecoder): RenderPlan {
  const { source, inputBytes } = p;
  const steps = planCascade(p.targets, source, p.colour);
  const scale = decoder.chooseScale?.(p) ?? 1;
  const dw = Math.ceil(source.width / scale), dh = Math.ceil(source.height / scale);
  const c = source.hasAlpha ? 4 : 3;
  const { rasterBytes, decodeBytes } = decoder.memory({ inputBytes, width: dw, height: dh, scale });
  // A streamed input is not held outside a decoder that holds it, and not at all after the decode.
  const inputWhileDecoding = p.inputStreamed && decoder.holdsInput ? 0 : inputBytes;
  const inputAfter = p.inputStreamed ? 0 : inputBytes;
  const phases: Array<{ phase: string; bytes: number }> = [
    { phase: `decode (${decoder.name}${scale > 1 ? ` at 1/${scale}` : ""}, ${dw}×${dh})`, bytes: decodeBytes - inputBytes + inputWhileDecoding },
  ];
  if (p.targets.some(placedByAttention)) {
    // The saliency analysis runs on a small copy of the decoded source, before any target (saliency.ts).
    const decodedOriented = orientedSize(dw, dh, source.orientation);
    const a = analysisSize(decodedOriented.width, decodedOriented.height);
    const stored = orientedSize(a.width, a.height, source.orientation);
    const shrink = p.resizeKernel ? p.resizeKernel(dw, dh, c, stored.width, stored.height) + a.width * a.height * c : resizeBytes(dw, dh, stored.width, stored.height, c);
    phases.push({ phase: `attention analysis (${a.width}×${a.height})`, bytes: inputAfter + rasterBytes + shrink + analysisBytes(a.width, a.height, c) });
  }
  let sourceAlive = true;
  let previous = 0;
  for (const step of steps) {
    const { target } = step;
    const n = target.width * target.height;
    const outCanvas = outputPixels(target);
    const stored = rectToStored(step.region, source.orientation, source.width, source.height);
    const fromW = step.from === "source" ? (stored.width * dw) / source.width : Math.max(target.width, target.height) * 2;
    const fromH = step.from === "source" ? (stored.height * dh) / source.height : Math.max(target.width, target.height) * 2;
    const content = n * c;
    const resizing = step.from === "same" ? 0
      : p.resizeKernel ? p.resizeKernel(Math.ceil(fromW), Math.ceil(fromH), c, target.width, target.height) + content
      : resizeBytes(fromW, fromH, target.width, target.height, c);
    const work = resizing + TARGET_STEPS.reduce((n, s) => n + s.workBytes(target, c), 0) + (p.colour?.tableBytes ?? 0);
    const bytes = inputAfter + (sourceAlive ? rasterBytes : 0) + previous + content + work + encoderBytes(target.format, outCanvas);
    phases.push({ phase: `${target.format} ${target.width}×${target.height}`, bytes });
    sourceAlive = step.sourceNeededAfter;
    previous = step.keepForNext ? content : 0;
  }
  return {
    decoder: decoder.name,
    scale,
    decodedWidth: dw,
    decodedHeight: dh,
    steps,
    peakBytes: Math.max(...phases.map((x) => x.bytes)),
    phases,
  };
}

/** The largest scale denominator (smallest decode: JPEG DCT scaling, PNG row averaging) that still gives every target enough pixels. */
export function chooseDecodeScale(p: PlanInput): JpegScale {
  // A border trim may keep any part of the image, at any size: its source is decoded whole.
  if (p.targets.some((t) => t.trimBorder)) return 1;
  const steps = planCascade(p.targets, p.source);
  for (const scale of [8, 4, 2] as const) if (neededScale(steps, p.source, scale)) return scale;
  return 1;
}

export function orientationSwapsAxes(o: Orientation): boolean {
  return o >= 5;
}
