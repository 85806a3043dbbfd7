import { eq } from "drizzle-orm";
import { database } from "../../shared/db.ts";
import { renditions } from "../../shared/schema.ts";
import type { GatewayEnv } from "../env.ts";

/**
 * Cache API key of a rendition. The Cache API ignores `Vary`, so the negotiated format is part of the key; the
 * key names the rendition, not the request URL, so every URL spelling of the same transform shares one entry and
 * a delete can find every entry from the renditions table.
 */
export function cacheKey(imageId: string, fingerprint: string, format: string): Request {
  return new Request(`https://image-cache.internal/${encodeURIComponent(imageId)}/${fingerprint}.${format}`);
}

/** Drops every cached rendition of an image (in this location's cache; see docs/DESIGN.md for other locations). */
export async function purgeRenditions(env: GatewayEnv, imageId: string): Promise<void> {
  const rows = await database(env.DB)
    .select({ fingerprint: renditions.fingerprint, format: renditions.format })
    .from(renditions)
    .where(eq(renditions.imageId, imageId));
  const cache = await caches.open("renditions");
  await Promise.all(rows.map((r) => cache.delete(cacheKey(imageId, r.fingerprint, r.format))));
}
