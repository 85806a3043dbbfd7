import { and, eq } from "drizzle-orm";
import { toHex } from "./crypto.ts";
import type { BatchItem } from "drizzle-orm/batch";
import { database, nowIso, type Db } from "./db.ts";
import type { RenderTrigger } from "./log.ts";
import { renderSampleInsert } from "./pipeline-stats.ts";
import type { OutputRequest, RenderedRendition } from "./render.ts";
import { renditions } from "./schema.ts";
import { deletePrefix, lifePrefixes, renditionKey, type StoredImage } from "./storage.ts";

/** A strong ETag computed from the bytes, so every path that serves them (cache, R2, fresh render) agrees. */
export async function renditionEtag(bytes: Uint8Array): Promise<string> {
  return `"${toHex(await crypto.subtle.digest("SHA-256", bytes)).slice(0, 32)}"`;
}

/** A D1 write that can go in a batch with others (drizzle's query builders before they run). */
export type D1Write = BatchItem<"sqlite">;

/** One output to store: what was asked, what was rendered, its ETag. */
export interface StoredOutput {
  request: OutputRequest;
  output: RenderedRendition;
  etag: string;
}

/**
 * Writes a render's outputs to R2 and indexes them in D1 (the index is what purges and the expiry sweep walk): the
 * R2 puts at once, then every index row, the render's stats sample and whatever `also` adds (a placeholder) in
 * one D1 batch, so storing a render costs one D1 round trip and lands all of it or none.
 */
export async function storeRenditions(
  env: { BUCKET: R2Bucket; DB: D1Database },
  image: StoredImage & { imageId: string },
  outputs: StoredOutput[],
  sample: { trigger: RenderTrigger; ms: number },
  also: (db: Db) => D1Write[] = () => [],
): Promise<void> {
  const rows = await Promise.all(outputs.map((o) => putRendition(env.BUCKET, image, o)));
  const db = database(env.DB);
  await db.batch([renderSampleInsert(db, sample.trigger, sample.ms), ...rows.map((row) => indexRendition(db, row)), ...also(db)]);
}

/** Puts one rendition in R2; answers its index row. */
async function putRendition(bucket: R2Bucket, image: StoredImage & { imageId: string }, { request, output, etag }: StoredOutput) {
  const key = renditionKey(image, request.fingerprint, request.format, request.variant === null);
  await bucket.put(key, output.bytes, { httpMetadata: { contentType: output.contentType }, customMetadata: { etag } });
  return {
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
}

function indexRendition(db: Db, row: typeof renditions.$inferInsert): D1Write {
  return db
    .insert(renditions)
    .values(row)
    .onConflictDoUpdate({ target: [renditions.imageId, renditions.fingerprint, renditions.format], set: row });
}

/** Removes what one life of an image rendered (a job or render that finished after its image was deleted). */
export async function discardLife(env: { BUCKET: R2Bucket; DB: D1Database }, image: StoredImage & { imageId: string }): Promise<void> {
  await Promise.all(lifePrefixes(image).map((prefix) => deletePrefix(env.BUCKET, prefix)));
  await database(env.DB)
    .delete(renditions)
    .where(and(eq(renditions.imageId, image.imageId), eq(renditions.life, image.life)));
}
