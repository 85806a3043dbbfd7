import { and, asc, count, desc, eq, gt, isNull, lt, ne, or, type SQL } from "drizzle-orm";
import { SVG_DOCUMENT_HEADERS } from "../delivery/svg-original.ts";
import { checkRenderable } from "../../shared/render-admission.ts";
import { parseBoolean } from "../../shared/config.ts";
import { coordinatorOf } from "../../shared/coordinators.ts";
import { database, primary } from "../../shared/db.ts";
import { badRequest, envelope, notFound, quote } from "../../shared/errors.ts";
import { deleteImageRecords, findImage, updateImageLife } from "../../shared/image-records.ts";
import { refuseDeletingDrawnImage } from "../variant-overlays.ts";
import { parseDecimalInteger } from "../../shared/numerals.ts";
import { images, type ImageRow } from "../../shared/schema.ts";
import { deletePrefix, imageStorageId, incomingKey, lifePrefixes, originalKey } from "../../shared/storage.ts";
import { router, type GatewayContext } from "../app.ts";
import { decodeContinuationToken, encodeContinuationToken } from "../continuation-token.ts";
import { respondWithBytes } from "../delivery/respond.ts";
import {
  checkImageAllowance,
  ingestUpload,
  inspectUpload,
  parseCreator,
  parseMetadata,
  parseUploadFields,
  readUploadSource,
} from "../ingest.ts";
import { cachedRenditions, invalidateImage } from "../invalidate.ts";
import { metadataFilterCondition, parseMetadataFilters } from "../list-filters.ts";
import { presentImages, presentOne } from "../presenters.ts";
import { readJsonObject, readUploadForm } from "../request-body.ts";
import { uploadGate } from "../upload-gate.ts";
import type { Context } from "hono";
import { since } from "../../shared/log.ts";

/**
 * `/accounts/:account_id/images/v1` and `/v2`: upload, read, edit, delete and list images. Image ids may have
 * `/`-separated subpaths, so the id routes take the rest of the path (`/blob` and `/events` are matched first).
 */
export const imageRoutes = router();

imageRoutes.post("/v1", uploadGate, async (c) => {
  const config = c.get("config");
  const started = Date.now();
  const form = await readUploadForm(c.req.raw, config);
  const fields = parseUploadFields(form);
  const upload = { via: form.get("url") ? ("url" as const) : ("api" as const), format: "", bytes: 0 };
  c.set("upload", upload);
  const read = await readUploadSource(form, config);
  upload.bytes = read.bytes.length;
  const { header, ...source } = inspectUpload(read, config);
  upload.format = header.format;
  await checkImageAllowance(c.get("db"), config);
  await checkRenderable(c.get("db"), source.bytes, header, source.bytes.length, config);
  const trace = { requestId: c.get("requestId"), phases: { probe: since(started) } };
  const row = await ingestUpload(c.env, config, c.req.raw, { ...source, header, fields }, trace);
  Object.assign(c.get("logFields"), { imageId: row.id, phases: trace.phases });
  // A copy of an earlier life's edge state may sit in this location's cache (deleted elsewhere moments ago).
  await invalidateImage(c, row.id, []);
  return c.json(envelope(await presentOne(c, row)));
});

imageRoutes.get("/v1", async (c) => {
  const page = intParam(c.req.query("page"), 1, 1, 1_000_000, "page");
  const perPage = intParam(c.req.query("per_page"), 1000, 1, 10_000, "per_page");
  const db = c.get("db");
  const filter = creatorFilter(c.req.query("creator"));
  const [rows, [{ total }]] = await Promise.all([
    db.select().from(images).where(filter).orderBy(desc(images.uploaded), desc(images.id)).limit(perPage).offset((page - 1) * perPage),
    db.select({ total: count() }).from(images).where(filter),
  ]);
  const list = await presentImages(c, rows);
  // `images` is Cloudflare's field; `items` lets the SDK's page iterator walk the list too.
  return c.json(
    envelope({ images: list, items: list }, { result_info: { page, per_page: perPage, count: list.length, total_count: total } }),
  );
});

imageRoutes.get("/v2", async (c) => {
  const perPage = intParam(c.req.query("per_page"), 1000, 10, 10_000, "per_page");
  const order = c.req.query("sort_order") ?? "desc";
  if (order !== "asc" && order !== "desc") throw badRequest(`sort_order must be asc or desc, got ${quote(order)}`);
  const cursor = decodeContinuationToken(c.req.query("continuation_token"));
  const conditions: (SQL | undefined)[] = [
    creatorFilter(c.req.query("creator")),
    metadataFilterCondition(parseMetadataFilters(new URL(c.req.url).searchParams)),
  ];
  if (cursor) {
    const after = order === "desc" ? lt : gt;
    conditions.push(or(after(images.uploaded, cursor.uploaded), and(eq(images.uploaded, cursor.uploaded), after(images.id, cursor.id))));
  }
  const direction = order === "desc" ? desc : asc;
  const rows = await c
    .get("db")
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
      images: await presentImages(c, pageRows),
      continuation_token: more && last ? encodeContinuationToken(last) : null,
    }),
  );
});

imageRoutes.get("/v1/:image_id{.+}/blob", async (c) => {
  const row = await imageOf(c);
  if (row.status === "draft") throw notFound(`image ${row.id} has not been uploaded yet`);
  const object = await c.env.BUCKET.get(originalKey({ storageId: await imageStorageId(row.id), life: row.life }));
  if (!object) throw notFound(`the original of image ${row.id} is not in storage`);
  const headers = new Headers({ "content-type": row.contentType ?? "application/octet-stream", etag: object.httpEtag });
  if (row.format === "svg") for (const [name, value] of Object.entries(SVG_DOCUMENT_HEADERS)) headers.set(name, value);
  return respondWithBytes(c.req.raw, object.body, object.size, headers);
});

imageRoutes.get("/v1/:image_id{.+}/events", async (c) => {
  const row = await imageOf(c);
  return coordinatorOf(c.env, row.id).fetch("https://coordinator/events", { signal: c.req.raw.signal });
});

imageRoutes.get("/v1/:image_id{.+}", async (c) => c.json(envelope(await presentOne(c, await imageOf(c)))));

imageRoutes.patch("/v1/:image_id{.+}", async (c) => {
  const row = await imageOf(c);
  const body = await readJsonObject(c.req.raw, c.get("config"));
  const update: Partial<typeof images.$inferInsert> = {};
  if ("metadata" in body) update.meta = parseMetadata(body.metadata) ?? {};
  if ("creator" in body) update.creator = parseCreator(body.creator) ?? null;
  const requireSigned = parseBoolean(body.requireSignedURLs, "requireSignedURLs");
  if (requireSigned !== undefined) update.requireSignedUrls = requireSigned;
  const unknown = Object.keys(body).filter((k) => !["metadata", "creator", "requireSignedURLs"].includes(k));
  if (unknown.length > 0) throw badRequest(`cannot change ${unknown.join(", ")}: only metadata, creator and requireSignedURLs can be edited`);
  if (Object.keys(update).length === 0) return c.json(envelope(await presentOne(c, row)));
  const updated = await updateImageLife(c.get("db"), row.id, row.life, update);
  if (!updated) throw notFound(`image ${JSON.stringify(row.id)} not found`);
  // Access control changed: no cached copy may outlive it (Cloudflare purges them too).
  if (requireSigned !== undefined && requireSigned !== row.requireSignedUrls) await invalidateImage(c, row.id, await cachedRenditions(c, row.id));
  return c.json(envelope(await presentOne(c, updated)));
});

imageRoutes.delete("/v1/:image_id{.+}", async (c) => {
  const row = await imageOf(c);
  const db = database(primary(c.env.DB));
  await refuseDeletingDrawnImage(db, row.id);
  const cached = await cachedRenditions(c, row.id);
  // Coordinator first: no job can start or finish, and renders still being stored land before it answers. Then
  // the record, so delivery misses 404 at once; then this location's cached copies; then the bytes.
  // Only this life's records and objects: the id may already be uploaded again while this runs.
  await coordinatorOf(c.env, row.id).markDeleted(c.get("requestId"));
  await deleteImageRecords(db, row.id, row.life);
  await invalidateImage(c, row.id, cached);
  const image = { storageId: await imageStorageId(row.id), life: row.life };
  await Promise.all([c.env.BUCKET.delete([originalKey(image), incomingKey(image)]), ...lifePrefixes(image).map((prefix) => deletePrefix(c.env.BUCKET, prefix))]);
  return c.json(envelope({}));
});

type Ctx = Context<GatewayContext>;

/** The image named by the route's id, or 404. */
async function imageOf(c: Ctx): Promise<ImageRow> {
  const id = c.req.param("image_id") ?? "";
  c.get("logFields").imageId = id;
  const row = await findImage(c.get("db"), id);
  if (!row) throw notFound(`image ${JSON.stringify(id)} not found`);
  return row;
}

function creatorFilter(creator: string | undefined): SQL | undefined {
  const notDeleted = ne(images.status, "deleted");
  if (creator === undefined) return notDeleted;
  return and(notDeleted, creator === "" ? isNull(images.creator) : eq(images.creator, creator));
}

function intParam(raw: string | undefined, fallback: number, min: number, max: number, name: string): number {
  if (raw === undefined || raw === "") return fallback;
  const n = parseDecimalInteger(raw);
  if (n === undefined || n < min || n > max) throw badRequest(`${name} must be an integer from ${min} to ${max} in decimal digits, got ${quote(raw)}`);
  return n;
}

