import type { SourceStream } from "../../wasm/src/source-stream.ts";
import type { Config } from "../shared/config.ts";
import type { OutputRequest, RenderSource } from "../shared/render.ts";
import { renditionEtag, storeRendition } from "../shared/renditions.ts";
import type { VariantRow } from "../shared/schema.ts";
import type { StoredImage } from "../shared/storage.ts";
import { transformFingerprint, transformOfVariant, type OutputFormat } from "../shared/transform.ts";
import { engineProcess, type EngineProcessEnv } from "./pipeline/engine-process.ts";
import { renderOutputs } from "./pipeline/render.ts";
import { withRenderSlot } from "./render-slots.ts";

/**
 * Formats produced eagerly for every named variant: WebP for browsers that take it, JPEG (PNG with alpha) for the
 * rest. AVIF is slow to encode, so it is rendered on first request and stored from then on.
 */
export function eagerFormats(hasAlpha: boolean): OutputFormat[] {
  return ["webp", hasAlpha ? "png" : "jpeg"];
}

/** The eager outputs of named variants for one original, in the given formats (by default all eager ones). */
export async function eagerRequests(named: VariantRow[], hasAlpha: boolean, formats = eagerFormats(hasAlpha)): Promise<OutputRequest[]> {
  const requests: OutputRequest[] = [];
  for (const variant of named) {
    const transform = transformOfVariant(variant);
    const fingerprint = await transformFingerprint(transform);
    for (const format of formats) requests.push({ transform, format, fingerprint, variant: variant.id });
  }
  return requests;
}

/**
 * Renders the outputs from one decode of the original, in a render slot, and stores each under the image's life.
 * Whether that life is still current is the caller's to check afterwards (and to discard what was stored if not).
 */
export async function renderAndStore(
  env: { BUCKET: R2Bucket; DB: D1Database } & EngineProcessEnv,
  config: Config,
  image: StoredImage & { imageId: string },
  original: Uint8Array | SourceStream,
  header: Pick<RenderSource, "format" | "width" | "height" | "orientation" | "hasAlpha">,
  requests: OutputRequest[],
): Promise<void> {
  const outputs = await withRenderSlot(() => renderOutputs(config, original, header, requests, engineProcess(env)));
  await Promise.all(outputs.map(async (output, i) => storeRendition(env, image, requests[i], output, await renditionEtag(output.bytes))));
}
