import { and, asc, count, desc, eq, gt, isNull, lt, ne, or, type SQL } from "drizzle-orm";
import { parseBoolean } from "../../shared/config.ts";
import { coordinatorOf } from "../../shared/coordinators.ts";
import { database } from "../../shared/db.ts";
import { badRequest, envelope, notFound } from "../../shared/errors.ts";
import { images, variants, type ImageRow } from "../../shared/schema.ts";
import { deletePrefix, originalKey, renditionPrefix } from "../../shared/storage.ts";
import { router, type GatewayContext } from "../app.ts";
import { purgeRenditions } from "../delivery/cache.ts";
import {
  checkImageAllowance,
  ingestUpload,
  inspectUpload,
  parseCreator,
  parseMetadata,
  parseUploadFields,
  readUploadSource,
} from "../ingest.ts";
import { deliveryBase, presentImage } from "../presenters.ts";
import { deleteImageRecords } from "../records.ts";
import { readJsonObject, readUploadForm } from "../request-body.ts";
import type { Context } from "hono";

/** `/accounts/:account_id/images/v1` and `/v2`: upload, read, edit, delete and list images. */
export const imageRoutes = router();

imageRoutes.post("/v1", async (c) => {
  const config = c.get("config");
  const form = await readUploadForm(c.req.raw, config);
  const fields = parseUploadFields(form);
  const source = await readUploadSource(form, config);
  const header = inspectUpload(source.bytes, config);
  await checkImageAllowance(c.env, config);
  const row = await ingestUpload(c.env, config, { ...source, header, fields });
  return c.json(envelope(await present(c, row)));
});

imageRoutes.get("/v1", async (c) => {
  const page = intParam(c.req.query("page"), 1, 1, 1_000_000, "page");
  const perPage = intParam(c.req.query("per_page"), 1000, 1, 10_000, "per_page");
  const db = database(c.env.DB);
  const filter = creatorFilter(c.req.query("creator"));
  const [rows, [{ total }]] = await Promise.all([
    db.select().from(images).where(filter).orderBy(desc(images.uploaded), desc(images.id)).limit(perPage).offset((page - 1) * perPage),
    db.select({ total: count() }).from(images).where(filter),
  ]);
  const list = await presentAll(c, rows);
  // `images` is Cloudflare's field; `items` lets the SDK's page iterator walk the list too.
  return c.json(
    envelope({ images: list, items: list }, { result_info: { page, per_page: perPage, count: list.length, total_count: total } }),
  );
});

imageRoutes.get("/v2", async (c) => {
  const perPage = intParam(c.req.query("per_page"), 1000, 10, 10_000, "per_page");
  const order = c.req.query("sort_order") ?? "desc";
  if (order !== "asc" && order !== "desc") throw badRequest(`sort_order must be asc or desc, got ${JSON.stringify(order)}`);
  const cursor = decodeCursor(c.req.query("continuation_token"));
  const conditions: (SQL | undefined)[] = [creatorFilter(c.req.query("creator"))];
  if (cursor) {
    const after = order === "desc" ? lt : gt;
    conditions.push(or(after(images.uploaded, cursor.uploaded), and(eq(images.uploaded, cursor.uploaded), after(images.id, cursor.id))));
  }
  const direction = order === "desc" ? desc : asc;
  const rows = await database(c.env.DB)
    .select()
    .from(images)
    .where(and(...conditions))
    .orderBy(direction(images.uploaded), direction(images.id))
    .limit(perPage + 1);
  const more = rows.length > perPage;
  const pageRows = rows.slice(0, perPage);
  const last = pageRows.at(-1);
  return c.json(
    envelope({
      images: await presentAll(c, pageRows),
      continuation_token: more && last ? encodeCursor(last) : null,
    }),
  );
});

imageRoutes.get("/v1/:image_id", async (c) => c.json(envelope(await present(c, await findImage(c, c.req.param("image_id"))))));

imageRoutes.patch("/v1/:image_id", async (c) => {
  const row = await findImage(c, c.req.param("image_id"));
  const body = await readJsonObject(c.req.raw, c.get("config"));
  const update: Partial<typeof images.$inferInsert> = {};
  if ("metadata" in body) update.meta = JSON.stringify(parseMetadata(body.metadata) ?? {});
  if ("creator" in body) update.creator = parseCreator(body.creator) ?? null;
  const requireSigned = parseBoolean(body.requireSignedURLs, "requireSignedURLs");
  if (requireSigned !== undefined) update.requireSignedUrls = requireSigned;
  const unknown = Object.keys(body).filter((k) => !["metadata", "creator", "requireSignedURLs"].includes(k));
  if (unknown.length > 0) throw badRequest(`cannot change ${unknown.join(", ")}: only metadata, creator and requireSignedURLs can be edited`);
  if (Object.keys(update).length > 0) {
    await database(c.env.DB).update(images).set(update).where(eq(images.id, row.id));
    // Access control changed: cached copies must not outlive it.
    if (requireSigned !== undefined && requireSigned !== row.requireSignedUrls) c.executionCtx.waitUntil(purgeRenditions(c.env, row.id));
  }
  return c.json(envelope(await present(c, await findImage(c, row.id))));
});

imageRoutes.delete("/v1/:image_id", async (c) => {
  const row = await findImage(c, c.req.param("image_id"));
  const db = database(c.env.DB);
  // Coordinator first, so no processor starts or finishes work on it; then the record, so delivery 404s at once.
  await coordinatorOf(c.env, row.id).markDeleted();
  await purgeRenditions(c.env, row.id);
  await deleteImageRecords(db, row.id);
  await Promise.all([c.env.BUCKET.delete(originalKey(row.id)), deletePrefix(c.env.BUCKET, renditionPrefix(row.id))]);
  return c.json(envelope({}));
});

imageRoutes.get("/v1/:image_id/blob", async (c) => {
  const row = await findImage(c, c.req.param("image_id"));
  if (row.status === "draft") throw notFound(`image ${row.id} has not been uploaded yet`);
  const object = await c.env.BUCKET.get(originalKey(row.id));
  if (!object) throw notFound(`the original of image ${row.id} is not in storage`);
  return new Response(object.body, {
    headers: {
      "content-type": row.contentType ?? "application/octet-stream",
      "content-length": String(object.size),
      etag: object.httpEtag,
    },
  });
});

imageRoutes.get("/v1/:image_id/events", async (c) => {
  const row = await findImage(c, c.req.param("image_id"));
  return coordinatorOf(c.env, row.id).fetch("https://coordinator/events", { signal: c.req.raw.signal });
});

type Ctx = Context<GatewayContext>;

export async function findImage(c: Ctx, id: string): Promise<ImageRow> {
  const [row] = await database(c.env.DB).select().from(images).where(eq(images.id, id));
  if (!row || row.status === "deleted") throw notFound(`image ${JSON.stringify(id)} not found`);
  return row;
}

async function variantNames(c: Ctx): Promise<string[]> {
  const rows = await database(c.env.DB).select({ id: variants.id }).from(variants).orderBy(asc(variants.id));
  return rows.map((r) => r.id);
}

function base(c: Ctx): string {
  const config = c.get("config");
  return deliveryBase(config.publicUrl ?? new URL(c.req.url).origin, config.accountHash);
}

export async function present(c: Ctx, row: ImageRow) {
  return presentImage(row, await variantNames(c), base(c));
}

async function presentAll(c: Ctx, rows: ImageRow[]) {
  const names = await variantNames(c);
  const b = base(c);
  return rows.map((row) => presentImage(row, names, b));
}

function creatorFilter(creator: string | undefined): SQL | undefined {
  const notDeleted = ne(images.status, "deleted");
  if (creator === undefined) return notDeleted;
  return and(notDeleted, creator === "" ? isNull(images.creator) : eq(images.creator, creator));
}

function intParam(raw: string | undefined, fallback: number, min: number, max: number, name: string): number {
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw badRequest(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  return n;
}

function encodeCursor(row: ImageRow): string {
  return btoa(JSON.stringify([row.uploaded, row.id])).replace(/=+$/, "");
}

function decodeCursor(token: string | undefined): { uploaded: string; id: string } | undefined {
  if (!token) return undefined;
  try {
    const [uploaded, id] = JSON.parse(atob(token)) as [string, string];
    if (typeof uploaded === "string" && typeof id === "string") return { uploaded, id };
  } catch {
    // fall through
  }
  throw badRequest("continuation_token is not one this API issued");
}
