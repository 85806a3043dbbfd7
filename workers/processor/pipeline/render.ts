import { renderTargets, type RenderTarget } from "../../../wasm/src/engine.ts";
import type { ImageHeader } from "../../../wasm/src/probe.ts";
import type { Config } from "../../shared/config.ts";
import { database, nowIso } from "../../shared/db.ts";
import { renditions } from "../../shared/schema.ts";
import { renditionKey } from "../../shared/storage.ts";
import type { OutputFormat, Transform } from "../../shared/transform.ts";
import { engineModules } from "../../../wasm/src/modules.worker.ts";
import { orientedSize } from "../../../wasm/src/pixels.ts";
import { planGeometry } from "./geometry.ts";
import type { ProcessorEnv } from "../env.ts";

/** One output to produce: a transform in a format, stored under the transform's fingerprint. */
export interface OutputRequest {
  transform: Transform;
  format: OutputFormat;
  fingerprint: string;
  variant: string | null;
}

export interface StoredRendition {
  request: OutputRequest;
  bytes: Uint8Array;
  contentType: string;
  httpEtag: string;
  width: number;
  height: number;
}

/**
 * Renders outputs from one decode of the original (the engine cascades from the largest to the smallest),
 * then stores each in R2 and records it in D1.
 */
export async function renderAndStore(
  env: ProcessorEnv,
  config: Config,
  imageId: string,
  original: Uint8Array,
  header: ImageHeader,
  requests: OutputRequest[],
): Promise<StoredRendition[]> {
  const source = orientedSize(header.width, header.height, header.orientation);
  const targets: RenderTarget[] = requests.map(({ transform, format }) => {
    const g = planGeometry(source, transform);
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
    { format: header.format, width: header.width, height: header.height, orientation: header.orientation, hasAlpha: header.hasAlpha },
    targets,
    { modules: engineModules, memoryBudgetBytes: config.memoryBudgetBytes, maxPixels: config.limits.maxPixels },
  );
  const db = database(env.DB);
  return Promise.all(
    outputs.map(async (output, i) => {
      const request = requests[i];
      const key = renditionKey(imageId, request.fingerprint, output.format);
      const object = await env.BUCKET.put(key, output.bytes, { httpMetadata: { contentType: output.contentType } });
      const row = {
        imageId,
        fingerprint: request.fingerprint,
        format: output.format,
        variant: request.variant,
        r2Key: key,
        width: output.width,
        height: output.height,
        bytes: output.bytes.length,
        etag: object.httpEtag,
        createdAt: nowIso(),
      };
      await db.insert(renditions).values(row).onConflictDoUpdate({ target: [renditions.imageId, renditions.fingerprint, renditions.format], set: row });
      return { request, bytes: output.bytes, contentType: output.contentType, httpEtag: object.httpEtag, width: output.width, height: output.height };
    }),
  );
}
