import { eq } from "drizzle-orm";
import { parseBoolean } from "../../shared/config.ts";
import { randomHex, sha256Hex } from "../../shared/crypto.ts";
import { coordinatorOf } from "../../shared/coordinators.ts";
import { database, nowIso } from "../../shared/db.ts";
import { ApiError, ErrorCode, badRequest, envelope, notFound } from "../../shared/errors.ts";
import { images, type ImageRow } from "../../shared/schema.ts";
import { originalKey } from "../../shared/storage.ts";
import { router } from "../app.ts";
import type { UploadCheck } from "../coordinator.ts";
import {
  checkImageAllowance,
  inspectUpload,
  originalColumns,
  parseCreator,
  parseImageId,
  parseMetadata,
  readUploadSource,
  storeOriginal,
  withStatus,
} from "../ingest.ts";
import { deleteImageRecords, insertImageRecord } from "../records.ts";
import { readFieldsForm, readJsonObject, readUploadForm, refuseBody } from "../request-body.ts";
import { present } from "./images.ts";

const MIN_EXPIRY_MS = 2 * 60 * 1000;
const MAX_EXPIRY_MS = 6 * 60 * 60 * 1000;

/** `POST /accounts/:account_id/images/v2/direct_upload`: a draft image and its one-time upload URL. */
export const directUploadRoutes = router();

directUploadRoutes.post("/v2/direct_upload", async (c) => {
  const config = c.get("config");
  const type = c.req.header("content-type") ?? "";
  const fields: Record<string, unknown> = {};
  if (/^application\/json/i.test(type)) {
    Object.assign(fields, await readJsonObject(c.req.raw, config));
  } else if (type) {
    const form = await readFieldsForm(c.req.raw, config);
    for (const [k, v] of form.entries()) if (typeof v === "string") fields[k] = v;
    const bracketed = parseMetadata(undefined, form);
    if (bracketed && fields.metadata === undefined) fields.metadata = bracketed;
  }
  const id = parseImageId(fields.id as string | undefined) ?? crypto.randomUUID();
  const expiresAt = parseExpiry(fields.expiry, config.directUploadDefaultExpirySeconds);
  await checkImageAllowance(c.env, config);

  const db = database(c.env.DB);
  const inserted = await insertImageRecord(db, {
    id,
    uploaded: nowIso(),
    status: "draft",
    requireSignedUrls: parseBoolean(fields.requireSignedURLs, "requireSignedURLs") ?? false,
    meta: JSON.stringify(parseMetadata(fields.metadata) ?? {}),
    creator: parseCreator(fields.creator) ?? null,
  });
  if (!inserted) throw new ApiError(409, ErrorCode.conflict, `an image with id ${JSON.stringify(id)} already exists`);

  const token = randomHex(32);
  const created = await coordinatorOf(c.env, id).createDraft(id, await sha256Hex(token), expiresAt);
  if (!created) {
    await deleteImageRecords(db, id);
    throw new ApiError(409, ErrorCode.conflict, `the id ${JSON.stringify(id)} was used before and cannot be reused`);
  }
  const origin = config.publicUrl ?? new URL(c.req.url).origin;
  return c.json(envelope({ id, uploadURL: `${origin}/upload/${encodeURIComponent(id)}/${token}` }));
});

/**
 * `POST /upload/:image_id/:token`: the one-time upload URL. No API token: the URL is the credential, good for one
 * successful upload before its expiry. The body is the same multipart form as an API upload (`file`).
 */
export const uploadUrlRoutes = router();

uploadUrlRoutes.post("/:image_id/:token", async (c) => {
  const config = c.get("config");
  const id = c.req.param("image_id");
  const coordinator = coordinatorOf(c.env, id);
  // The image and the token first, so a wrong, used or expired URL is refused without reading the body; then the
  // file, before the token is spent, so a rejected file can be replaced by a good one.
  const [row] = await database(c.env.DB).select().from(images).where(eq(images.id, id));
  const tokenHash = await sha256Hex(c.req.param("token"));
  const token: UploadCheck = row ? await coordinator.checkUploadToken(tokenHash) : { ok: false, reason: "unknown" };
  if (!token.ok) refuseBody(c.req.raw);
  refuseUnlessValid(token);
  const form = await readUploadForm(c.req.raw, config);
  if (form.get("url")) throw badRequest("a direct upload takes a file field, not a url");
  const source = await readUploadSource(form, config);
  const header = inspectUpload(source.bytes, config);
  // Checked again as it is spent: another upload may have used the URL while this file was read.
  refuseUnlessValid(await coordinator.beginDirectUpload(tokenHash));

  let stored: ImageRow;
  try {
    await storeOriginal(c.env, id, source.bytes, header);
    const [updated] = await database(c.env.DB)
      .update(images)
      .set({ filename: source.filename ?? null, uploaded: nowIso(), ...originalColumns(header, source.bytes) })
      .where(eq(images.id, id))
      .returning();
    stored = withStatus(updated, await coordinator.accept(id, originalKey(id)));
  } catch (error) {
    await coordinator.abortDirectUpload();
    throw new ApiError(503, ErrorCode.unavailable, `the upload could not be stored; the URL can be used again (${(error as Error).message})`);
  }
  return c.json(envelope(await present(c, stored)));
});

function refuseUnlessValid(check: UploadCheck): void {
  if (check.ok) return;
  if (check.reason === "used") throw new ApiError(409, ErrorCode.conflict, "this upload URL has already been used");
  if (check.reason === "expired") throw new ApiError(410, ErrorCode.gone, "this upload URL has expired");
  throw notFound("this upload URL is not valid");
}

function parseExpiry(raw: unknown, defaultSeconds: number): number {
  const now = Date.now();
  if (raw === undefined || raw === null || raw === "") return now + defaultSeconds * 1000;
  const at = Date.parse(String(raw));
  if (Number.isNaN(at)) throw badRequest(`expiry must be an RFC 3339 date-time, got ${JSON.stringify(raw)}`);
  if (at - now < MIN_EXPIRY_MS || at - now > MAX_EXPIRY_MS) throw badRequest("expiry must be between 2 minutes and 6 hours from now");
  return at;
}
