import { sha256Hex } from "./crypto.ts";

/**
 * R2 key layout (one bucket). `<sid>` is the image's storage id (below), `<life>` the upload's life (images.life):
 *   originals/<sid>/<life>                        the uploaded bytes, never rewritten
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

export const renditionKey = (image: StoredImage, fingerprint: string, format: string, flexible: boolean) =>
  `${flexible ? "flexible" : "renditions"}/${image.storageId}/${image.life}/${fingerprint}.${format}`;

/** The prefixes of one life's renditions, so a late job of an old life never touches a newer life's objects. */
export const lifePrefixes = (image: StoredImage) => [`renditions/${image.storageId}/${image.life}/`, `flexible/${image.storageId}/${image.life}/`];

/** Ids whose escaped form is longer than this are stored under a hash, so every key stays under R2's 1024 bytes. */
const MAX_PLAIN_STORAGE_ID = 512;

/**
 * The id as it appears in R2 keys: escaped so it holds no `/` (the prefix of id `a` must never cover id `a/b`),
 * or, when long, `%h` + the SHA-256 of the id (`%h` is never produced by escaping, so the two forms cannot meet).
 */
export async function imageStorageId(id: string): Promise<string> {
  const escaped = encodeURIComponent(id);
  return escaped.length <= MAX_PLAIN_STORAGE_ID ? escaped : `%h${await sha256Hex(id)}`;
}

/** A random life id for a new upload. */
export function newLife(): string {
  return crypto.randomUUID().replaceAll("-", "").slice(0, 16);
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
