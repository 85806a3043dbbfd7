import { clockTurn, log, since, type PhaseTimings, type RenderTrigger } from "../shared/log.ts";
import { recordRender, type MetricsEnv } from "../shared/metrics.ts";
import { renderSampleMs } from "../shared/pipeline-stats.ts";
import type { RenderFacts } from "../shared/render.ts";

/** What one render went through: filled in by the steps as they run, reported once at the end. */
export interface RenderTrace {
  phases: PhaseTimings;
  facts?: RenderFacts;
}

export const newRenderTrace = (): RenderTrace => ({ phases: {} });

/**
 * Runs a step and adds its wall-clock time to the trace's phase. A CPU-bound step (`cpuBound`) is followed by a
 * timer turn, so the Workers clock, frozen during compute, has caught up before the end is read.
 */
export async function timed<T>(trace: RenderTrace | undefined, phase: keyof PhaseTimings, step: () => Promise<T>, cpuBound = false): Promise<T> {
  if (!trace) return step();
  const start = Date.now();
  const result = await step();
  if (cpuBound) await clockTurn();
  trace.phases[phase] = (trace.phases[phase] ?? 0) + since(start);
  return result;
}

/** The trace's phases, with the engine's decode/resize/encode times where its clock could tell them (non-zero). */
export function tracedPhases(trace: RenderTrace): PhaseTimings {
  const f = trace.facts;
  const engine = f && f.decodeMs + f.resizeMs + f.encodeMs > 0 ? { decode: round(f.decodeMs), resize: round(f.resizeMs), encode: round(f.encodeMs) } : {};
  return { ...trace.phases, ...engine };
}

const round = (ms: number) => Math.round(ms * 10) / 10;

export interface RenderReport {
  trigger: RenderTrigger;
  requestId?: string;
  /** The request ids of the other deliveries whose outputs this render made (an on-demand batch). */
  batchedWith?: string[];
  imageId: string;
  outputs: number;
  /** "ok", or why it failed (a CodecError's kind, "error"). */
  outcome: string;
  message?: string;
}

/**
 * One render's log line and data point. The render's time is the sum of its phases: reading the original,
 * rendering, storing. Its sample for the stats percentiles is written by whoever stores its outputs, in the D1
 * batch that indexes them (renditions.ts storeRenditions).
 */
export function reportRender(env: MetricsEnv, trace: RenderTrace, report: RenderReport): void {
  const phases = tracedPhases(trace);
  const ms = round(renderSampleMs(phases));
  const f = trace.facts;
  log({
    event: "render",
    requestId: report.requestId,
    batchedWith: report.batchedWith,
    imageId: report.imageId,
    trigger: report.trigger,
    outcome: report.outcome,
    message: report.message,
    ms,
    phases,
    decoder: f?.decoder,
    scale: f?.scale,
    peakMb: f?.peakMb,
    outputs: report.outputs,
  });
  recordRender(env, { trigger: report.trigger, decoder: f?.decoder ?? "", outcome: report.outcome, ms, scale: f?.scale ?? 0, peakMb: f?.peakMb ?? 0, outputs: report.outputs });
}
