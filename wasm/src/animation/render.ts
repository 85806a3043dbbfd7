/**
 * Animated outputs of an animated original: the frames are composed one at a time (gif-frames.ts,
 * webp-frames.ts), and each composed frame is resized for every animated target and encoded at once, so only one
 * canvas (two for a GIF frame disposed to "previous") and one resized frame per target are alive at any moment,
 * besides the encoded frames. Planned before the first decode, like a still (plan.ts), and refused by name when
 * the plan is over the budget.
 */
import { CodecError } from "../errors.ts";
import type { Raster, Rect } from "../raster.ts";
import type { EngineModules } from "../modules.ts";
import type { RenderedOutput, RenderOptions, RenderTarget, SourceInfo } from "../targets.ts";
import type { RenderPlan } from "../plan.ts";
import { encoderBytes, placedByAttention, targetRegion } from "../plan.ts";
import { analysisBytes, analysisSize, attentionPlacer } from "../saliency.ts";
import { CONTENT_TYPES } from "../formats/index.ts";
import { kernels } from "../kernels.ts";
import { encodeRaster } from "../encode.ts";
import { borderAround, padTo } from "../canvas.ts";
import { outputSize } from "../steps/step.ts";
import { asCodecError } from "../decode.ts";
import { instantiateWebpDecoder } from "../codecs/instances.ts";
import { DEFAULT_MEMORY_BUDGET_BYTES, renderTargets, type RenderReport } from "../engine.ts";
import { resizeOriented } from "../steps/resize.ts";
import { FILTER_STEPS } from "../steps/index.ts";
import { composeGifFrames } from "./gif-frames.ts";
import { composeWebpFrames } from "./webp-frames.ts";
import { frameOfStill, muxAnimatedWebp, type MuxFrame } from "./webp-mux.ts";
import { DEFAULT_ANIMATION_LIMITS, checkAnimationLimits, type AnimationHeader, type AnimationLimits, type ComposedFrame } from "./index.ts";

const MiB = 1024 * 1024;
const mb = (n: number) => `${Math.ceil(n / MiB)} MB`;

/** Output formats that carry an animation. */
export const ANIMATED_OUTPUT_FORMATS = ["webp"] as const;

/** Whether `target` is rendered as an animation (when the source has one). */
export function wantsAnimation(target: RenderTarget): boolean {
  // A border trim is found in one decoded raster, and drawn layers are placed on one: such a target is rendered from the first frame.
  return target.animate === true && !target.trimBorder && !target.draw?.length && (ANIMATED_OUTPUT_FORMATS as readonly string[]).includes(target.format);
}

/**
 * Estimated peak of rendering `targets` from `animation`: the input, the canvas and its "previous" copy, the
 * WebP frame decoder, and per target its resized frame, the encoder, and the encoded frames gathered so far
 * (up to ~1 byte per output pixel per frame for GIF, ~½ for WebP).
 */
export function planAnimation(inputBytes: number, animation: AnimationHeader, source: SourceInfo, targets: RenderTarget[]): RenderPlan {
  const canvas = 4 * animation.width * animation.height;
  const decoder = source.format === "webp" ? 16 * MiB + 6 * animation.width * animation.height : 0;
  const frames = animation.frameCount;
  let perFrame = 0, gathered = 0, encoder = 0;
  const phases: RenderPlan["phases"] = [];
  for (const t of targets) {
    const n = outputSize(t).width * outputSize(t).height;
    const resize = kernels.resize ? kernels.resize.estimateResizeBytes(animation.width, animation.height, 4, t.width, t.height) + 4 * n : 12 * n;
    perFrame += 8 * n;
    const filters = FILTER_STEPS.reduce((bytes, step) => bytes + step.workBytes(t, 4), 0);
    encoder = Math.max(encoder, resize + filters + encoderBytes(t.format, n));
    gathered += frames * n * 0.5;
    phases.push({ phase: `animated ${t.format} ${t.width}×${t.height}, ${frames} frames`, bytes: 0 });
  }
  // The first frame's attention analysis (saliency.ts) comes before any target's encoder is working.
  const analysed = analysisSize(animation.width, animation.height);
  const attention = targets.some(placedByAttention)
    ? analysisBytes(analysed.width, analysed.height, 4) + 12 * analysed.width * analysed.height : 0;
  const peakBytes = Math.ceil(inputBytes + 2 * canvas + decoder + perFrame + Math.max(encoder, attention) + gathered);
  for (const p of phases) p.bytes = peakBytes;
  return {
    decoder: `${source.format}-frames`,
    scale: 1,
    decodedWidth: animation.width,
    decodedHeight: animation.height,
    steps: [],
    peakBytes,
    phases,
  };
}

/** One animated output in the making. */
interface Track {
  index: number;
  target: RenderTarget;
  region: Rect;
  webpFrames?: MuxFrame[];
}

/**
 * Renders `targets` (all of them `wantsAnimation`) from the animated `input`. Outputs come back in the order of
 * `targets`. Throws `limit` over an animation limit or the budget, `corrupt` for a damaged first frame.
 */
export async function renderAnimation(
  input: Uint8Array,
  animation: AnimationHeader,
  source: SourceInfo,
  targets: RenderTarget[],
  options: { modules: EngineModules; budgetBytes: number; limits: AnimationLimits },
): Promise<{ outputs: RenderedOutput[]; plan: RenderPlan }> {
  checkAnimationLimits(animation, options.limits);
  const plan = planAnimation(input.length, animation, source, targets);
  if (plan.peakBytes > options.budgetBytes) {
    throw new CodecError("limit", `rendering this ${animation.width}×${animation.height} animation of ${animation.frameCount} frames needs ${mb(plan.peakBytes)}, over the ${mb(options.budgetBytes)} memory budget (memoryBudgetBytes)`);
  }
  const { modules } = options;
  const canvasSource: SourceInfo = { ...source, width: animation.width, height: animation.height };
  const tracks: Track[] = targets.map((target, index) => ({
    index, target, region: targetRegion(target, canvasSource),
    webpFrames: [],
  }));

  // gravity=auto: attention crops are placed on the first frame and kept for the rest, so the crop does not jump.
  let unplaced = targets.some(placedByAttention);
  for (const frame of await composedFrames(input, source, modules)) {
    const raster: Raster = { data: frame.rgba, width: frame.width, height: frame.height, channels: 4 };
    if (unplaced) {
      const place = await attentionPlacer(raster, 1, raster, modules);
      for (const track of tracks) if (placedByAttention(track.target)) track.region = place(track.region, track.target.cropPlacement!.within);
      unplaced = false;
    }
    for (const track of tracks) {
      const { target } = track;
      let out = await resizeOriented(raster, 1, target.width, target.height, track.region, modules);
      const context = { modules, orientation: 1 as const, crop: { left: 0, top: 0, width: out.width, height: out.height } };
      for (const step of FILTER_STEPS) out = await step.run(out, target, context);
      if (target.canvas) out = padTo(out, target.canvas.width, target.canvas.height, target.canvas.background);
      if (target.border) out = borderAround(out, target.border);
      const still = await encodeRaster(out, "webp", target.quality, modules, undefined, { reuseEncoder: true });
      track.webpFrames!.push(frameOfStill(still.bytes, frame.delayMs));
    }
  }

  const outputs = tracks.map(({ target, webpFrames }): RenderedOutput => {
    const { width, height } = outputSize(target);
    const bytes = muxAnimatedWebp(webpFrames!, width, height, animation.loop);
    return { bytes, width, height, format: target.format, contentType: CONTENT_TYPES[target.format] };
  });
  return { outputs, plan };
}

/** The composed frames, decoded lazily one at a time (a WebP animation through one libwebp instance). */
async function composedFrames(input: Uint8Array, source: SourceInfo, modules: EngineModules): Promise<Iterable<ComposedFrame>> {
  if (source.format === "gif") return guard(composeGifFrames(input), "GIF");
  const codec = await instantiateWebpDecoder(modules.webpDec);
  return guard(composeWebpFrames(input, (still) => {
    let image;
    try {
      image = codec.api.decode(still);
    } catch (e) {
      throw asCodecError(e, "WebP frame decode", codec.messages);
    }
    if (!image) throw new CodecError("corrupt", "WebP decode failed: libwebp rejected a frame of the animation");
    const data = image.data instanceof Uint8Array ? image.data : new Uint8Array(image.data.buffer, image.data.byteOffset, image.data.byteLength);
    return { data, width: image.width, height: image.height };
  }), "WebP");
}

/** Turns anything a compositor throws into a CodecError. */
function* guard(frames: Generator<ComposedFrame>, what: string): Generator<ComposedFrame> {
  try {
    yield* frames;
  } catch (e) {
    throw asCodecError(e, `animated ${what} decode`);
  }
}

/**
 * `renderTargets` for an animated original: the targets that keep the animation frame by frame, the others
 * (first frame: JPEG, PNG, AVIF, `animate` off) by the still path, one after the other so their peaks never add.
 */
export async function renderKeepingAnimation(
  input: Uint8Array,
  animation: AnimationHeader,
  source: SourceInfo,
  targets: RenderTarget[],
  options: RenderOptions,
  report?: (r: RenderReport) => void,
): Promise<RenderedOutput[]> {
  const animatedAt = targets.flatMap((t, i) => (wantsAnimation(t) ? [i] : []));
  const stillAt = targets.flatMap((t, i) => (wantsAnimation(t) ? [] : [i]));
  const budgetBytes = options.memoryBudgetBytes ?? DEFAULT_MEMORY_BUDGET_BYTES;
  const limits = options.animationLimits ?? DEFAULT_ANIMATION_LIMITS;
  const started = performance.now();
  const animated = await renderAnimation(input, animation, source, animatedAt.map((i) => targets[i]), { modules: options.modules, budgetBytes, limits });
  const elapsed = performance.now() - started;
  let stillReport: RenderReport | undefined;
  const stills = stillAt.length ? await renderTargets(input, source, stillAt.map((i) => targets[i]), options, (r) => (stillReport = r)) : [];
  const outputs: RenderedOutput[] = new Array(targets.length);
  animatedAt.forEach((at, k) => (outputs[at] = animated.outputs[k]));
  stillAt.forEach((at, k) => (outputs[at] = stills[k]));
  // The animation's plan is reported (its estimate is the larger part); its time counts as encoding.
  report?.({
    plan: animated.plan,
    measuredPeakBytes: Math.max(animated.plan.peakBytes, stillReport?.measuredPeakBytes ?? 0),
    maxWasmHeapBytes: stillReport?.maxWasmHeapBytes ?? 0,
    timings: { decodeMs: stillReport?.timings.decodeMs ?? 0, resizeMs: stillReport?.timings.resizeMs ?? 0, encodeMs: elapsed + (stillReport?.timings.encodeMs ?? 0) },
  });
  return outputs;
}
