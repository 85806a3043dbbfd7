import { asc } from "drizzle-orm";
import { randomHex } from "../shared/crypto.ts";
import { database, nearest, nowIso, primary, type Db } from "../shared/db.ts";
import { signingKeys, variants } from "../shared/schema.ts";
import { transformFingerprint, transformOfVariant } from "../shared/transform.ts";
import type { VariantEdgeState } from "./delivery/edge-state.ts";

// Account-wide records read by both the management API and delivery: named variants and URL-signing keys.

/** Every named variant's transform and fingerprint, by name. */
export async function listVariantTransforms(db: Db): Promise<Record<string, VariantEdgeState>> {
  const rows = await db.select().from(variants).orderBy(asc(variants.id));
  const entries = await Promise.all(
    rows.map(async (row) => {
      const transform = transformOfVariant(row);
      return [row.id, { transform, fingerprint: await transformFingerprint(transform), neverRequireSignedUrls: row.neverRequireSignedUrls }] as const;
    }),
  );
  return Object.fromEntries(entries);
}

export async function listVariantNames(db: Db): Promise<string[]> {
  const rows = await db.select({ id: variants.id }).from(variants).orderBy(asc(variants.id));
  return rows.map((r) => r.id);
}

/**
 * All signing keys, creating the `default` one on first use (its value is random per deployment). Read from the
 * nearest replica; the first-use write, and the read after it, go to the primary.
 */
export async function listSigningKeys(d1: D1Database): Promise<{ name: string; value: string }[]> {
  const rows = await database(nearest(d1)).select().from(signingKeys).orderBy(asc(signingKeys.name));
  if (rows.some((r) => r.name === "default")) return rows.map((r) => ({ name: r.name, value: r.value }));
  const db = database(primary(d1));
  // First use: write once (a concurrent first use keeps whichever value landed first), then read back.
  await db.insert(signingKeys).values({ name: "default", value: randomHex(32), createdAt: nowIso() }).onConflictDoNothing();
  const written = await db.select().from(signingKeys).orderBy(asc(signingKeys.name));
  return written.map((r) => ({ name: r.name, value: r.value }));
}
