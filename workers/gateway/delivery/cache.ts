import type { StoredImage } from "../../shared/storage.ts";

/**
 * Cache API key of a rendition. The Cache API ignores `Vary`, so the negotiated format is part of the key; the
 * key names the rendition (the image's storage id and life, the transform's fingerprint), not the request URL, so
 * every URL spelling of the same transform shares one entry, a re-uploaded id never meets its predecessor's
 * entries, a redefined variant renders to a new key, and a delete can find every entry from the renditions index.
 */
export function renditionCacheKey(image: StoredImage, fingerprint: string, format: string): string {
  return `${renditionKeyPrefix(image.storageId)}${image.life}/${fingerprint}.${format}`;
}

/** The part every rendition key of one image (any life) begins with. */
export const renditionKeyPrefix = (storageId: string) => `https://renditions.internal/${storageId}/`;

let renditions: Promise<Cache> | undefined;
/** The location's cache of renditions (opened once per isolate). */
export const renditionCache = () => (renditions ??= caches.open("renditions"));
