import type { Placeholder } from "../../wasm/src/placeholder.ts";
import type { SourceStream } from "../../wasm/src/source-stream.ts";
import type { Config } from "../shared/config.ts";
import { drawsLayers, type OutputRequest, type RenderFacts, type RenderSource } from "../shared/render.ts";
import type { Db } from "../shared/db.ts";
import type { RenderTrigger } from "../shared/log.ts";
import { renderSampleMs } from "../shared/pipeline-stats.ts";
import { renditionEtag, storeRenditions, type D1Write } from "../shared/renditions.ts";
import type { StoredImage } from "../shared/storage.ts";
import { engineProcess, type EngineProcessEnv } from "./pipeline/engine-process.ts";
import { renderOutputs } from "./pipeline/render.ts";
import { loadDrawOriginals, missingLayer } from "./pipeline/draw-layers.ts";
import { log } from "../shared/log.ts";
import { withRenderSlot } from "./render-slots.ts";
import { timed, type RenderTrace } from "./render-trace.ts";

export { eagerFormats, eagerRequests } from "../shared/eager-set.ts";

/**
 * Renders the outputs from one decode of the original, in a render slot, and stores each under the image's life,
 * their index rows in one D1 batch with the render's stats sample (as `trigger`) and what `also` adds once the
 * render is done (given its placeholder); answers the image's placeholder, made on the way (undefined where the
 * engine made none: no still target).
 * Whether that life is still current is the caller's to check afterwards (and to discard what was stored if not).
 * A request whose variant draws an image no longer stored is left out (the image is not failed for another
 * image's absence); its delivery answers the error naming it.
 */
export async function renderAndStore(
  env: { BUCKET: R2Bucket; DB: D1Database } & EngineProcessEnv,
  config: Config,
  image: StoredImage & { imageId: string },
  original: Uint8Array | SourceStream,
  header: Pick<RenderSource, "format" | "width" | "height" | "orientation" | "hasAlpha">,
  requests: OutputRequest[],
  trace: RenderTrace,
  trigger: RenderTrigger,
  also?: (placeholder: Placeholder | undefined, db: Db) => D1Write[],
): Promise<Placeholder | undefined> {
  const observe = (facts: RenderFacts) => (trace.facts = facts);
  const drawn = drawsLayers(requests) ? await loadDrawOriginals(env.BUCKET, requests) : undefined;
  if (drawn) {
    const missing = requests.filter((r) => missingLayer(r, drawn));
    for (const r of missing) log({ event: "warning", message: `variant ${r.variant} draws image ${JSON.stringify(missingLayer(r, drawn)!.image)}, which is no longer stored: not rendered eagerly` });
    requests = requests.filter((r) => !missing.includes(r));
  }
  let placeholder: Placeholder | undefined;
  const outputs = await timed(trace, "render", () =>
    withRenderSlot(() => renderOutputs(config, original, header, requests, engineProcess(env), observe, (p) => (placeholder = p), drawn)), true);
  // The sample counts the phases before the store (the store is timed around the batch that writes it).
  const sample = { trigger, ms: renderSampleMs(trace.phases) };
  await timed(trace, "store", async () => {
    const stored = await Promise.all(outputs.map(async (output, i) => ({ request: requests[i], output, etag: await renditionEtag(output.bytes) })));
    await storeRenditions(env, image, stored, sample, also && ((db) => also(placeholder, db)));
  });
  return placeholder;
}
