import { sha256Hex } from "./crypto.ts";

/**
 * R2 key layout (one bucket). `<sid>` is the image's storage id (below), `<life>` the upload's life (images.life):
 *   originals/<sid>/<life>                        the uploaded bytes, never rewritten
 *   incoming/<sid>/<life>                         a presigned direct-to-R2 `PUT` lands here; the processor moves it
 *                                                 to originals/ once (workers/processor/direct-uploads.ts)
 *   renditions/<sid>/<life>/<fingerprint>.<fmt>   a named variant's output (eager or on demand), kept while the image lives
 *   flexible/<sid>/<life>/<fingerprint>.<fmt>     a flexible-options output; expires (R2 lifecycle rule on `flexible/`
 *                                                 in production, the sweep in workers/gateway/sweep.ts everywhere)
 * The fingerprint hashes the transform, so a changed variant definition renders to a new key; the life makes a
 * re-uploaded id start from empty keys.
 */
export interface StoredImage {
  storageId: string;
  life: string;
}

export const originalKey = (image: StoredImage) => `originals/${image.storageId}/${image.life}`;

export const INCOMING_PREFIX = "incoming/";

export const incomingKey = (image: StoredImage) => `${INCOMING_PREFIX}${image.storageId}/${image.life}`;

/** The image an `incoming/` key belongs to, or undefined for any other key. */
export function parseIncomingKey(key: string): StoredImage | undefined {
  const match = /^incoming\/([^/]+)\/([0-9a-f]{16})$/.exec(key);
  return match ? { storageId: match[1], life: match[2] } : undefined;
}

export const renditionKey = (image: StoredImage, fingerprint: string, format: string, flexible: boolean) =>
  `${flexible ? "flexible" : "renditions"}/${image.storageId}/${image.life}/${fingerprint}.${format}`;

/** The prefixes of one life's renditions, so a late job of an old life never touches a newer life's objects. */
export const lifePrefixes = (image: StoredImage) => [`renditions/${image.storageId}/${image.life}/`, `flexible/${image.storageId}/${image.life}/`];

/** A random life id for a new upload. */
export function newLife(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 16);
}

/** R2's limit on the length of a key, in UTF-8 bytes. */
export const MAX_R2_KEY_BYTES = 1024;

/**
 * The longest storage id kept readable. The longest key built from one is
 * `renditions/<storage id>/<16-hex life>/<16-hex fingerprint>.<format>`, 50 bytes around the id today; 900 leaves
 * room for growth. This is part of the key layout: changing it moves the stored objects of ids near the bound.
 */
export const MAX_READABLE_STORAGE_ID_BYTES = 900;

/** Marks a hashed storage id. encodeURIComponent always escapes `:`, so no readable storage id contains one. */
const HASHED_PREFIX = "sha256:";

/**
 * The id an image's objects are stored under: `encodeURIComponent(id)` while that is short enough (ids we
 * generate, and most custom ids, stay as they are), else `sha256:` and the SHA-256 hex of the id. Either form
 * is at most 900 bytes, so every key stays under R2's limit, and has no `/`, so one image's prefix never covers
 * another's (`renditions/a/` must not list the renditions of `a/b`). Distinct ids map to distinct storage ids:
 * encodeURIComponent is one-to-one, and the two forms cannot meet.
 */
export async function imageStorageId(imageId: string): Promise<string> {
  let readable: string | undefined;
  try {
    readable = encodeURIComponent(imageId);
  } catch {
    // Only a lone surrogate makes encodeURIComponent throw; ingest refuses such ids, but be total anyway.
  }
  // encodeURIComponent's output is ASCII, so its length is its size in bytes.
  if (readable !== undefined && readable.length <= MAX_READABLE_STORAGE_ID_BYTES) return readable;
  return `${HASHED_PREFIX}${await sha256Hex(imageId)}`;
}

/** The image id a readable storage id stands for; undefined for a hashed one, which only D1 (by life) can resolve. */
export function imageIdOfStorageId(storageId: string): string | undefined {
  if (storageId.startsWith(HASHED_PREFIX)) return undefined;
  try {
    return decodeURIComponent(storageId);
  } catch {
    return undefined;
  }
}

/** Deletes every object under a prefix, a page at a time. */
export async function deletePrefix(bucket: R2Bucket, prefix: string): Promise<number> {
  let deleted = 0;
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix, cursor });
    if (page.objects.length > 0) {
      await bucket.delete(page.objects.map((o) => o.key));
      deleted += page.objects.length;
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return deleted;
}
