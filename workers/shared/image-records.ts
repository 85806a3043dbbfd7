import { and, eq, getTableColumns, sql, type SQL } from "drizzle-orm";
import type { Placeholder } from "../../wasm/src/placeholder.ts";
import { CONTENT_TYPES, type ImageHeader } from "../../wasm/src/probe.ts";
import { database, nearest, primary, type Db } from "./db.ts";
import { counters, images, renditions, type ImageRow } from "./schema.ts";

// Every D1 read and write of image records lives here. Rows are only inserted and deleted here, each in one batch
// (a D1 transaction) with the `images` counter: SQLite's changes() is the row count of the statement just before
// it, so a no-op insert or delete counts nothing.
const bumpImages = (db: Db, sign: 1 | -1) =>
  db
    .update(counters)
    .set({ value: sign === 1 ? sql`${counters.value} + changes()` : sql`${counters.value} - changes()` })
    .where(eq(counters.name, "images"));

export type InsertOutcome = { inserted: ImageRow } | { refused: "taken" | "full" };

/**
 * Inserts an image record unless the id is taken or the account already holds `maxImages` images. The limit is
 * checked by the INSERT itself, in the same transaction as the counter update, so concurrent uploads cannot
 * overshoot it; the INSERT returns the stored row, so an accepted upload costs one D1 round trip.
 */
export async function insertImageRecord(db: Db, row: typeof images.$inferInsert, maxImages: number): Promise<InsertOutcome> {
  const columns = getTableColumns(images);
  const entries = Object.entries(row).filter(([, v]) => v !== undefined) as [keyof typeof columns, unknown][];
  const names = entries.map(([k]) => `"${columns[k].name}"`).join(", ");
  const values = entries.map(([k, v]) => columns[k].mapToDriverValue(v));
  // drizzle cannot batch an INSERT … SELECT, so this one statement is written out (values still bound).
  const d1 = db.$client;
  const [inserted] = await d1.batch([
    d1
      .prepare(
        `INSERT INTO "images" (${names}) SELECT ${values.map(() => "?").join(", ")}
         WHERE (SELECT "value" FROM "counters" WHERE "name" = 'images') < ?
         ON CONFLICT DO NOTHING RETURNING *`,
      )
      .bind(...values, maxImages),
    d1.prepare(`UPDATE "counters" SET "value" = "value" + changes() WHERE "name" = 'images'`),
  ]);
  const stored = inserted.results[0] as Record<string, unknown> | undefined;
  if (stored) return { inserted: imageRowOf(stored) };
  const [taken] = await db.select({ id: images.id }).from(images).where(eq(images.id, row.id));
  return { refused: taken ? "taken" : "full" };
}

/** A row as D1 returned it (column names, driver values) as drizzle's select gives it (property names, mapped values). */
function imageRowOf(stored: Record<string, unknown>): ImageRow {
  const row: Record<string, unknown> = {};
  for (const [name, column] of Object.entries(getTableColumns(images))) {
    const value = stored[column.name];
    row[name] = value === null || value === undefined ? null : column.mapFromDriverValue(value);
  }
  return row as ImageRow;
}

/** Deletes an image record (only that life's, when given) and its renditions' records. */
export async function deleteImageRecords(db: Db, id: string, life?: string): Promise<void> {
  const record: SQL | undefined = life === undefined ? eq(images.id, id) : and(eq(images.id, id), eq(images.life, life));
  const derived: SQL | undefined = life === undefined ? eq(renditions.imageId, id) : and(eq(renditions.imageId, id), eq(renditions.life, life));
  await db.batch([db.delete(renditions).where(derived), db.delete(images).where(record), bumpImages(db, -1)]);
}

export async function countImages(db: Db): Promise<number> {
  const [row] = await db.select({ value: counters.value }).from(counters).where(eq(counters.name, "images"));
  return row?.value ?? 0;
}

/** An image as the management API shows it (drafts included), or undefined. */
export async function findImage(db: Db, id: string): Promise<ImageRow | undefined> {
  const [row] = await db.select().from(images).where(eq(images.id, id));
  return row && row.status !== "deleted" ? row : undefined;
}

/**
 * An image read for delivery: from the nearest replica, but a replica's "not found" (or a draft, which a lagging
 * replica may still show after its upload) is checked again at the primary before it is believed, so a delivery
 * right after an upload never answers 404 because a replica lags.
 */
export async function findImageForDelivery(d1: D1Database, id: string): Promise<ImageRow | undefined> {
  const row = await findImage(database(nearest(d1)), id);
  if (row && row.status !== "draft") return row;
  return findImage(database(primary(d1)), id);
}

/** The renditions an image's life has in storage, for purging their cached copies. */
export async function listRenditions(db: Db, id: string) {
  return db
    .select({ life: renditions.life, fingerprint: renditions.fingerprint, format: renditions.format, variant: renditions.variant })
    .from(renditions)
    .where(eq(renditions.imageId, id));
}

/** The record of one life of an image (recovery and jobs: a record of an earlier or later life is not this upload's). */
export async function findImageLife(db: Db, id: string, life: string): Promise<ImageRow | undefined> {
  const [row] = await db.select().from(images).where(and(eq(images.id, id), eq(images.life, life)));
  return row;
}

/** Updates one life's record only, so a late write for an old life never touches the id's next upload. */
export async function updateImageLife(db: Db, id: string, life: string, patch: Partial<typeof images.$inferInsert>): Promise<ImageRow | undefined> {
  const [row] = await imageLifeUpdate(db, id, life, patch).returning();
  return row;
}

/** The same update, not run yet: for a caller that batches it with other writes. */
export function imageLifeUpdate(db: Db, id: string, life: string, patch: Partial<typeof images.$inferInsert>) {
  return db.update(images).set(patch).where(and(eq(images.id, id), eq(images.life, life)));
}

/** The original's facts, recorded in its D1 record once its bytes are stored (every upload path writes these). */
export function originalColumns(header: ImageHeader, byteLength: number) {
  return {
    format: header.format,
    contentType: CONTENT_TYPES[header.format],
    width: header.width,
    height: header.height,
    orientation: header.orientation,
    hasAlpha: header.hasAlpha,
    // Unknown (a GIF probed from its first bytes only) is left null: delivery then takes any GIF for animated.
    animated: header.animationUnknown ? null : header.animated,
    bytes: byteLength,
  };
}

/** An image's placeholder as its D1 record holds it. */
export function placeholderColumns(placeholder: Placeholder) {
  return { thumbhash: placeholder.thumbhash, dominantColor: placeholder.dominantColor };
}

/** The image a life belongs to (a life is unique): how a hashed storage id in an R2 key is resolved. */
export async function findImageIdByLife(db: Db, life: string): Promise<string | undefined> {
  const [row] = await db.select({ id: images.id }).from(images).where(eq(images.life, life));
  return row?.id;
}
