import { and, asc, inArray, isNull, lt } from "drizzle-orm";
import type { Config } from "../shared/config.ts";
import { database, primary } from "../shared/db.ts";
import { renditions } from "../shared/schema.ts";

const PAGE = 500;
const MAX_PAGES = 20;

/**
 * Removes flexible renditions older than FLEXIBLE_RENDITION_TTL_DAYS from R2 and the index: every distinct option
 * string renders a new file, so without an expiry a crawler would grow storage forever. In production an R2
 * lifecycle rule on the `flexible/` prefix expires the objects as well; this sweep keeps the index in step and
 * is the only expiry under `npm start`. A swept rendition is rendered again on its next request.
 */
export async function sweepFlexibleRenditions(env: { DB: D1Database; BUCKET: R2Bucket }, config: Config, now = Date.now()): Promise<number> {
  const db = database(primary(env.DB));
  const cutoff = new Date(now - config.delivery.flexibleTtlSeconds * 1000).toISOString();
  let swept = 0;
  for (let page = 0; page < MAX_PAGES; page++) {
    const expired = await db
      .select({ r2Key: renditions.r2Key })
      .from(renditions)
      .where(and(isNull(renditions.variant), lt(renditions.createdAt, cutoff)))
      .orderBy(asc(renditions.variant), asc(renditions.createdAt))
      .limit(PAGE);
    if (expired.length === 0) break;
    const keys = expired.map((r) => r.r2Key);
    await env.BUCKET.delete(keys);
    await db.delete(renditions).where(and(isNull(renditions.variant), inArray(renditions.r2Key, keys)));
    swept += keys.length;
  }
  return swept;
}
