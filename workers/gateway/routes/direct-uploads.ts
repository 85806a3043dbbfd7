import type { UploadCheck } from "../../shared/bindings.ts";
import { checkRenderable } from "../../shared/render-admission.ts";
import { parseBoolean } from "../../shared/config.ts";
import { coordinatorOf } from "../../shared/coordinators.ts";
import { randomHex, sha256Hex } from "../../shared/crypto.ts";
import { database, nowIso, primary } from "../../shared/db.ts";
import { ApiError, ErrorCode, badRequest, describeError, envelope, notFound } from "../../shared/errors.ts";
import { findImage, insertImageRecord, originalColumns, updateImageLife } from "../../shared/image-records.ts";
import { imageStorageId, incomingKey, newLife, originalKey } from "../../shared/storage.ts";
import { router } from "../app.ts";
import { faultPoint } from "../faults.ts";
import {
  checkImageAllowance,
  idTaken,
  imageLimitReached,
  inspectUpload,
  parseCreator,
  parseImageId,
  parseMetadata,
  readUploadSource,
  storeOriginal,
  withStatus,
} from "../ingest.ts";
import { invalidateImage } from "../invalidate.ts";
import { presentOne } from "../presenters.ts";
import { checkUploadLimits } from "../../shared/upload-checks.ts";
import { presignPut } from "../r2-presign.ts";
import { checkDeclaredSize, parseDeclaredSize, parseUploadLimits, withUploadLimits } from "../upload-limits.ts";
import { readFieldsForm, readJsonObject, readUploadForm, refuseBody } from "../request-body.ts";
import { uploadGate } from "../upload-gate.ts";

const MIN_EXPIRY_MS = 2 * 60 * 1000;
const MAX_EXPIRY_MS = 6 * 60 * 60 * 1000;

/** `POST /accounts/:account_id/images/v2/direct_upload`: a draft image and its one-time upload URL. */
export const directUploadRoutes = router();

directUploadRoutes.post("/", async (c) => {
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
  const limits = parseUploadLimits(fields, config);
  const size = parseDeclaredSize(fields.size, config, limits);
  const row = {
    id,
    life: newLife(),
    uploaded: nowIso(),
    status: "draft" as const,
    requireSignedUrls: parseBoolean(fields.requireSignedURLs, "requireSignedURLs") ?? false,
    meta: parseMetadata(fields.metadata) ?? {},
    creator: parseCreator(fields.creator) ?? null,
  };
  await checkImageAllowance(c.get("db"), config);

  // Coordinator first: a Worker that dies after it leaves a draft whose expiry alarm removes it.
  const token = randomHex(32);
  const coordinator = coordinatorOf(c.env, id);
  const image = { storageId: await imageStorageId(id), life: row.life };
  const original = originalKey(image);
  c.get("logFields").imageId = id;
  if (!(await coordinator.createDraft(id, row.life, original, await sha256Hex(token), expiresAt, limits, c.get("requestId")))) throw idTaken(id);
  const outcome = await insertImageRecord(database(primary(c.env.DB)), row, config.maxImages);
  if ("refused" in outcome) {
    await coordinator.markDeleted();
    throw outcome.refused === "taken" ? idTaken(id) : imageLimitReached(config.maxImages, config);
  }
  const origin = config.publicUrl ?? new URL(c.req.url).origin;
  const path = id.split("/").map(encodeURIComponent).join("/");
  // Our extensions, beside Cloudflare's fields: `limits` when the request set some; `putURL` and `putHeaders` (a
  // presigned PUT straight to R2, ingested when R2's notification arrives) when R2 credentials are configured.
  const { signer, bucketName } = config.directUploads;
  const put = signer && (await presignPut(signer, bucketName, incomingKey(image), expiresAt, size));
  const answer = { id, uploadURL: `${origin}/upload/${path}/${token}`, ...(Object.keys(limits).length > 0 ? { limits } : {}), ...put };
  return c.json(envelope(answer));
});

/**
 * `POST /upload/:image_id/:token`: the one-time upload URL. No API token: the URL is the credential, good for one
 * successful upload before its expiry. The body is the same multipart form as an API upload (`file`). The token
 * is checked before any of the body is read, and spent only once the file passed its checks.
 */
export const uploadUrlRoutes = router();

uploadUrlRoutes.use(async (c, next) => {
  c.set("db", database(primary(c.env.DB)));
  await next();
});

uploadUrlRoutes.post("/*", uploadGate, async (c) => {
  const config = c.get("config");
  const { id, token } = parseUploadPath(new URL(c.req.url).pathname);
  c.get("logFields").imageId = id;
  const upload = { via: "direct" as const, format: "", bytes: 0 };
  c.set("upload", upload);
  const tokenHash = await sha256Hex(token);
  const coordinator = coordinatorOf(c.env, id);
  // The token first, so a wrong, used or expired URL is refused without reading the body (which is cancelled:
  // otherwise a local dev proxy holds the answer until an endless body ends).
  const check = await coordinator.checkUploadToken(tokenHash);
  if (!check.ok) refuseBody(c.req.raw);
  refuseUnless(check);
  const { limits } = check;
  checkDeclaredSize(c.req.raw, limits);
  const form = await readUploadForm(c.req.raw, withUploadLimits(config, limits)).catch((error) => {
    throw limits.maxBytes !== undefined && error instanceof ApiError && error.status === 413
      ? new ApiError(413, ErrorCode.tooLarge, `the upload is over ${limits.maxBytes} bytes, the most this upload URL allows (maxBytes)`)
      : error;
  });
  if (form.get("url")) throw badRequest("a direct upload takes a file field, not a url");
  const { header, ...source } = inspectUpload(await readUploadSource(form, config), config);
  Object.assign(upload, { bytes: source.bytes.length, format: header.format });
  checkUploadLimits(source.bytes.length, header, limits);
  await checkRenderable(c.get("db"), source.bytes, header, source.bytes.length, config);

  // Checked again as it is spent: another upload may have used the URL while this file was read.
  refuseUnless(await coordinator.beginDirectUpload(tokenHash));
  faultPoint(config, c.req.raw, "token-spent");
  const db = database(primary(c.env.DB));
  const draft = await findImage(db, id);
  if (!draft || draft.status !== "draft") throw notFound("this upload URL is not valid");
  try {
    await storeOriginal(c.env, { storageId: await imageStorageId(id), life: draft.life }, source.bytes, header);
    faultPoint(config, c.req.raw, "original-stored");
    const updated = await updateImageLife(db, id, draft.life, { filename: source.filename ?? null, uploaded: nowIso(), ...originalColumns(header, source.bytes.length) });
    if (!updated) throw notFound("this upload URL is not valid");
    faultPoint(config, c.req.raw, "recorded");
    const stored = withStatus(updated, await coordinator.accept(id, draft.life, c.get("requestId")));
    await invalidateImage(c, id, []);
    return c.json(envelope(await presentOne(c, stored)));
  } catch (error) {
    if (error instanceof Error && error.name === "SimulatedCrash") throw error;
    await coordinator.abortDirectUpload();
    throw new ApiError(503, ErrorCode.unavailable, `the upload could not be stored; the URL can be used again (${describeError(error)})`);
  }
});

/**
 * `GET /upload/:image_id/:token/events`: the uploader follows its own image's Server-Sent Events with the upload
 * URL's token as its credential (a browser holds no API token), for that image only and for as long as it lives,
 * the upload included.
 */
uploadUrlRoutes.get("/*", async (c) => {
  const pathname = new URL(c.req.url).pathname;
  if (!pathname.endsWith("/events")) throw notFound("no such route");
  const { id, token } = parseUploadPath(pathname.slice(0, -"/events".length));
  const coordinator = coordinatorOf(c.env, id);
  if (!(await coordinator.holdsUploadToken(await sha256Hex(token)))) throw notFound("this upload URL is not valid");
  return coordinator.fetch("https://coordinator/events", { signal: c.req.raw.signal });
});

/** `/upload/<id…>/<token>`: the id may have subpaths; each segment is decoded once. */
function parseUploadPath(pathname: string): { id: string; token: string } {
  const segments = pathname.split("/").slice(2);
  if (segments.length < 2 || segments.some((s) => s === "")) throw notFound("this upload URL is not valid");
  try {
    return { id: segments.slice(0, -1).map(decodeURIComponent).join("/"), token: segments.at(-1)! };
  } catch {
    throw notFound("this upload URL is not valid");
  }
}

function refuseUnless(check: UploadCheck): asserts check is Extract<UploadCheck, { ok: true }> {
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
