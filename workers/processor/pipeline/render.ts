import { renderTargets, type RenderTarget } from "../../../wasm/src/engine.ts";
import { engineModules } from "../../../wasm/src/modules.worker.ts";
import { orientedSize } from "../../../wasm/src/pixels.ts";
import type { Config } from "../../shared/config.ts";
import { planGeometry } from "../../shared/geometry.ts";
import type { OutputRequest, RenderedRendition, RenderSource } from "../../shared/render.ts";

/**
 * Renders outputs from one decode of the original (the engine cascades from the largest to the smallest).
 * Storing is the caller's: a job stores at once, an on-demand render is committed by the image's coordinator.
 */
export async function renderOutputs(
  config: Config,
  original: Uint8Array,
  source: Pick<RenderSource, "format" | "width" | "height" | "orientation" | "hasAlpha">,
  requests: OutputRequest[],
): Promise<RenderedRendition[]> {
  const oriented = orientedSize(source.width, source.height, source.orientation);
  const targets: RenderTarget[] = requests.map(({ transform, format }) => {
    const g = planGeometry(oriented, transform);
    const background: [number, number, number, number] = [...transform.background, format === "jpeg" ? 255 : 0];
    return {
      width: g.width,
      height: g.height,
      crop: g.crop,
      canvas: g.canvas ? { ...g.canvas, background } : undefined,
      format,
      quality: transform.quality,
      metadata: transform.metadata,
      background: transform.background,
    };
  });
  const outputs = await renderTargets(
    original,
    { format: source.format, width: source.width, height: source.height, orientation: source.orientation, hasAlpha: source.hasAlpha },
    targets,
    { modules: engineModules, memoryBudgetBytes: config.memoryBudgetBytes, maxPixels: config.limits.maxPixels },
  );
  return outputs.map((o) => ({ bytes: o.bytes, contentType: o.contentType, width: o.width, height: o.height }));
}
