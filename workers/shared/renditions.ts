import { and, eq } from "drizzle-orm";
import { toHex } from "./crypto.ts";
import { database, nowIso } from "./db.ts";
import type { RenderTrigger } from "./log.ts";
import { renderSampleInsert } from "./pipeline-stats.ts";
import type { OutputRequest, RenderedRendition } from "./render.ts";
import { renditions } from "./schema.ts";
import { deletePrefix, lifePrefixes, renditionKey, type StoredImage } from "./storage.ts";

/** A strong ETag computed from the bytes, so every path that serves them (cache, R2, fresh render) agrees. */
export async function renditionEtag(bytes: Uint8Array): Promise<string> {
  return `"${toHex(await crypto.subtle.digest("SHA-256", bytes)).slice(0, 32)}"`;
}

/**
 * Writes one rendition to R2 and indexes it in D1 (the index is what purges and the expiry sweep walk). With
 * `sample`, the render's stats sample goes in the same D1 batch as the index row: one round trip for both.
 */
export async function storeRendition(
  env: { BUCKET: R2Bucket; DB: D1Database },
  image: StoredImage & { imageId: string },
  request: OutputRequest,
  output: RenderedRendition,
  etag: string,
  sample?: { trigger: RenderTrigger; ms: number },
): Promise<void> {
  const key = renditionKey(image, request.fingerprint, request.format, request.variant === null);
  await env.BUCKET.put(key, output.bytes, { httpMetadata: { contentType: output.contentType }, customMetadata: { etag } });
  const row = {
    imageId: image.imageId,
    life: image.life,
    fingerprint: request.fingerprint,
    format: request.format,
    variant: request.variant,
    r2Key: key,
    width: output.width,
    height: output.height,
    bytes: output.bytes.length,
    etag,
    createdAt: nowIso(),
  };
  const db = database(env.DB);
  const index = db
    .insert(renditions)
    .values(row)
    .onConflictDoUpdate({ target: [renditions.imageId, renditions.fingerprint, renditions.format], set: row });
  if (sample) await db.batch([index, renderSampleInsert(db, sample.trigger, sample.ms)]);
  else await index;
}

/** Removes what one life of an image rendered (a job or render that finished after its image was deleted). */
export async function discardLife(env: { BUCKET: R2Bucket; DB: D1Database }, image: StoredImage & { imageId: string }): Promise<void> {
  await Promise.all(lifePrefixes(image).map((prefix) => deletePrefix(env.BUCKET, prefix)));
  await database(env.DB)
    .delete(renditions)
    .where(and(eq(renditions.imageId, image.imageId), eq(renditions.life, image.life)));
}
