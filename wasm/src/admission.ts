/**
 * Admission, before an upload is accepted: can the engine render these targets from this file within the
 * memory budget? Planned from the header alone with the planner's own memory model (plan.ts, the decoders'
 * models from the format modules), as the processor will render it (the original streamed in), so a file that
 * cannot fit is refused at upload instead of accepted and failed later. Pure TypeScript: no wasm is loaded.
 */
import { FORMATS } from "./formats/index.ts";
import type { ImageHeader } from "./formats/types.ts";
import { kernels } from "./kernels.ts";
import { planRender, type RenderPlan } from "./plan.ts";
import type { RenderTarget } from "./targets.ts";

export interface Admission {
  fits: boolean;
  /** The plan that fits (the engine's choice), else the one that comes closest. */
  plan: RenderPlan;
  /** Its largest phase, for messages. */
  peak: { phase: string; bytes: number };
}

/** Plans `targets` from `headerBytes` (at least the file's header) of a `byteLength`-byte file. */
export function admitRender(headerBytes: Uint8Array, header: ImageHeader, byteLength: number, targets: RenderTarget[], budgetBytes: number): Admission {
  const stored = { format: header.format, width: header.width, height: header.height, orientation: header.orientation, hasAlpha: header.hasAlpha };
  // A vector original is planned as the raster its targets need, as the engine renders it.
  const { source, targets: planned } = FORMATS[header.format].rasterFor?.(stored, targets, Infinity) ?? { source: stored, targets };
  const decoders = FORMATS[header.format].planningDecoders(headerBytes, source, byteLength);
  const resizeKernel = kernels.resize?.estimateResizeBytes;
  const plans = decoders.map((d) => planRender({ inputBytes: byteLength, source, targets: planned, resizeKernel, inputStreamed: true }, d));
  const fitting = plans.find((p) => p.peakBytes <= budgetBytes);
  const plan = fitting ?? plans.reduce((a, b) => (b.peakBytes < a.peakBytes ? b : a));
  const peak = plan.phases.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  return { fits: fitting !== undefined && byteLength <= budgetBytes, plan, peak };
}
