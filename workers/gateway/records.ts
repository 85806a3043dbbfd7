import { eq, sql } from "drizzle-orm";
import type { Db } from "../shared/db.ts";
import { counters, images, renditions, type ImageRow } from "../shared/schema.ts";

// Image rows are only inserted and deleted here, each in one batch (a D1 transaction) with the `images` counter:
// SQLite's changes() is the row count of the statement just before it, so a no-op insert counts nothing.
const bumpImages = (db: Db, sign: 1 | -1) =>
  db
    .update(counters)
    .set({ value: sign === 1 ? sql`${counters.value} + changes()` : sql`${counters.value} - changes()` })
    .where(eq(counters.name, "images"));

/** Inserts an image record unless the id is taken; answers the stored row, or undefined when the id was taken. */
export async function insertImageRecord(db: Db, row: typeof images.$inferInsert): Promise<ImageRow | undefined> {
  const [inserted] = await db.batch([db.insert(images).values(row).onConflictDoNothing().returning(), bumpImages(db, 1)]);
  return inserted[0];
}

/** Deletes an image record and its renditions' records. */
export async function deleteImageRecords(db: Db, id: string): Promise<void> {
  await db.batch([db.delete(renditions).where(eq(renditions.imageId, id)), db.delete(images).where(eq(images.id, id)), bumpImages(db, -1)]);
}

export async function countImages(db: Db): Promise<number> {
  const [row] = await db.select({ value: counters.value }).from(counters).where(eq(counters.name, "images"));
  return row?.value ?? 0;
}
