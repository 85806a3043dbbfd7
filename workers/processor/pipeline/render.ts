import { renderTargets, type Placeholder, type SourceStream } from "../../../wasm/src/engine.ts";
import type { AnimationLimits } from "../../../wasm/src/animation/index.ts";
import { engineModules } from "../../../wasm/src/modules.worker.ts";
import { outputPixels } from "../../../wasm/src/steps/step.ts";
import type { Config } from "../../shared/config.ts";
import { log } from "../../shared/log.ts";
import { renderTargetsOf } from "../../shared/eager-set.ts";
import { drawsLayers, type OutputRequest, type RenderedRendition, type RenderFacts, type RenderSource } from "../../shared/render.ts";
import { EngineUnreachable, renderInEngineProcess, type EngineProcess } from "./engine-process.ts";
import { renderDrawLayers, type DrawOriginals } from "./draw-layers.ts";

/** What a render needs to know about the original besides its bytes. */
export type SourceFacts = Pick<RenderSource, "format" | "width" | "height" | "orientation" | "hasAlpha">;

/** The limits a render obeys; a Config has them. */
export interface RenderSettings {
  memoryBudgetBytes: number;
  /** The animation limits default to the engine's (Cloudflare's), as the config's defaults do. */
  limits: Pick<Config["limits"], "maxPixels"> & Partial<Pick<Config["limits"], "maxAnimationPixels" | "maxAnimationFrames">>;
}

let warnedUnreachable = false;

function animationLimitsOf({ limits }: RenderSettings): AnimationLimits | undefined {
  const { maxAnimationPixels, maxAnimationFrames } = limits;
  return maxAnimationPixels && maxAnimationFrames ? { maxAnimationPixels, maxAnimationFrames } : undefined;
}

/**
 * A render this small stays in place even when a render process is there: a file of at most 1 MiB rendered to
 * outputs of at most 1 MP each takes the shared thread about as long as the trip to the render process costs it
 * (measured: a 185 KB 12 MP JPEG → 320 px WebP, 11 ms in the engine; the trip added about 6 ms to the answer).
 * Anything larger (a phone photo, an eager set) would hold the thread for hundreds of milliseconds, and moves.
 */
const IN_PLACE_MAX_BYTES = 1024 * 1024;
const IN_PLACE_MAX_OUTPUT_PIXELS = 1_000_000;

export function rendersInPlace(original: Uint8Array | SourceStream, source: SourceFacts, requests: OutputRequest[]): boolean {
  const bytes = original instanceof Uint8Array ? original.length : original.byteLength;
  if (bytes > IN_PLACE_MAX_BYTES) return false;
  return renderTargetsOf(source, requests).every((t) => outputPixels(t) <= IN_PLACE_MAX_OUTPUT_PIXELS);
}

/**
 * Renders outputs from one decode of the original (the engine cascades from the largest to the smallest), and the
 * image's placeholder when `placeholder` asks for it.
 * Storing is the caller's: a job stores at once, an on-demand render is committed by the image's coordinator.
 * With `engine` (local development: see engine-process.ts) the work is done in the render process, unless it
 * is small (rendersInPlace) or draws layers (the wire carries no rasters), or here when that process cannot be reached. An original given as a stream (stored-original.ts) is held once, by the
 * engine; it can be rendered here after an unreachable render process only if that did not start reading it.
 */
export async function renderOutputs(
  settings: RenderSettings,
  original: Uint8Array | SourceStream,
  source: SourceFacts,
  requests: OutputRequest[],
  engine?: EngineProcess,
  observe?: (facts: RenderFacts) => void,
  placeholder?: (placeholder: Placeholder) => void,
  drawn?: DrawOriginals,
): Promise<RenderedRendition[]> {
  if (engine && !drawsLayers(requests) && !rendersInPlace(original, source, requests)) {
    try {
      const settingsForCall = { memoryBudgetBytes: settings.memoryBudgetBytes, limits: animationLimitsOf(settings) ? { maxPixels: settings.limits.maxPixels, ...animationLimitsOf(settings) } : { maxPixels: settings.limits.maxPixels } };
      return await renderInEngineProcess(engine, settingsForCall, original, source, requests, observe, placeholder);
    } catch (error) {
      if (!(error instanceof EngineUnreachable)) throw error;
      if (!(original instanceof Uint8Array) && original.stream.locked) throw new Error(`${error.message}, after it began reading the original`);
      if (!warnedUnreachable) log({ event: "warning", message: `${error.message}; rendering in place` });
      warnedUnreachable = true;
    }
  }
  return renderInPlace(settings, original, source, requests, observe, placeholder, drawn);
}

/** Renders in this isolate; `drawn` holds the originals of the layers the requests draw (loadDrawOriginals). */
export async function renderInPlace(
  settings: RenderSettings,
  original: Uint8Array | SourceStream,
  source: SourceFacts,
  requests: OutputRequest[],
  observe?: (facts: RenderFacts) => void,
  placeholder?: (placeholder: Placeholder) => void,
  drawn?: DrawOriginals,
): Promise<RenderedRendition[]> {
  const targets = renderTargetsOf(source, requests);
  if (drawsLayers(requests)) {
    if (!drawn) throw new Error("a render that draws layers needs their originals (loadDrawOriginals)");
    const layers = await renderDrawLayers(settings, targets, requests, drawn);
    layers.forEach((draw, i) => draw && (targets[i].draw = draw));
  }
  const outputs = await renderTargets(
    original,
    { format: source.format, width: source.width, height: source.height, orientation: source.orientation, hasAlpha: source.hasAlpha },
    targets,
    { modules: engineModules, memoryBudgetBytes: settings.memoryBudgetBytes, maxPixels: settings.limits.maxPixels, animationLimits: animationLimitsOf(settings), placeholder },
    observe &&
      ((r) =>
        observe({
          decoder: r.plan.decoder,
          scale: r.plan.scale,
          peakMb: Math.round((r.measuredPeakBytes / 2 ** 20) * 10) / 10,
          ...r.timings,
        })),
  );
  return outputs.map((o) => ({ bytes: o.bytes, contentType: o.contentType, width: o.width, height: o.height }));
}
