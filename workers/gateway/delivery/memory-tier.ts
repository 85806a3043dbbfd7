/**
 * The isolate's own copies of hot renditions, in front of the location's Cache API: a popular thumbnail is then
 * answered from memory, with no cache lookup at all.
 *
 * It is keyed exactly as the Cache API copy is (renditionCacheKey: storage id, life, fingerprint, format), and
 * bytes under such a key never change, so a copy here is never stale by itself. What it must not outlive is the
 * right to serve it, and that is decided before it is looked up, as for the Cache API: edge state says whether
 * the image still exists in that life, whether the URL needs a signature and which format `Accept` gets. So the
 * tier adds no invalidation bound of its own; a change's own location still drops an image's copies at once
 * (forgetRenditionsOf), only to give the memory back.
 *
 * Bounded by DELIVERY_MEMORY_CACHE_MB (least recently served first out), and only renditions that were served
 * from the location's cache before come in, so one-off requests never churn it.
 */
export interface MemoryRendition {
  bytes: Uint8Array;
  etag: string;
}

/** A copy larger than this share of the budget is not kept: a few large renditions would push out many small ones. */
const LARGEST_SHARE = 1 / 16;

const copies = new Map<string, MemoryRendition>();
let heldBytes = 0;

export function memoryRendition(key: string): MemoryRendition | undefined {
  const copy = copies.get(key);
  if (copy) {
    // Most recently served last: Map keeps insertion order, so the first entry is the one to evict.
    copies.delete(key);
    copies.set(key, copy);
  }
  return copy;
}

/** Whether a rendition of `size` bytes would be kept under `budgetBytes`. */
export function fitsMemoryTier(size: number, budgetBytes: number): boolean {
  return size > 0 && size <= budgetBytes * LARGEST_SHARE;
}

export function keepInMemory(key: string, copy: MemoryRendition, budgetBytes: number): void {
  if (!fitsMemoryTier(copy.bytes.length, budgetBytes)) return;
  drop(key);
  while (heldBytes + copy.bytes.length > budgetBytes) {
    const oldest = copies.keys().next().value;
    if (oldest === undefined) break;
    drop(oldest);
  }
  copies.set(key, copy);
  heldBytes += copy.bytes.length;
}

/** Drops every copy of an image's renditions (keys begin with `prefix`, its storage id's part of the key). */
export function forgetRenditionsOf(prefix: string): void {
  for (const key of [...copies.keys()]) if (key.startsWith(prefix)) drop(key);
}

/** What the tier holds now. */
export function memoryTierUsage(): { renditions: number; bytes: number } {
  return { renditions: copies.size, bytes: heldBytes };
}

export const memoryTierKeys = (): string[] => [...copies.keys()];

function drop(key: string): void {
  const copy = copies.get(key);
  if (!copy) return;
  copies.delete(key);
  heldBytes -= copy.bytes.length;
}
