import { CONTENT_TYPES, type ImageHeader } from "../../wasm/src/probe.ts";
import type { CoordinatorState } from "../shared/bindings.ts";
import { parseBoolean, type Config } from "../shared/config.ts";
import { coordinatorOf } from "../shared/coordinators.ts";
import { database, nowIso, primary, type Db } from "../shared/db.ts";
import { ApiError, ErrorCode, badRequest, describeError, quote } from "../shared/errors.ts";
import { countImages, insertImageRecord, originalColumns } from "../shared/image-records.ts";
import type { ImageRow, ImageStatus } from "../shared/schema.ts";
import { imageStorageId, newLife, originalKey, type StoredImage } from "../shared/storage.ts";
import { checkAnimationLimits, checkImageLimits, probeUpload, storedOriginal } from "../shared/upload-checks.ts";
import type { GatewayEnv } from "./env.ts";
import { faultPoint } from "./faults.ts";
import { since, type PhaseTimings } from "../shared/log.ts";
import { checkMetadataSize, metadataFromFormFields } from "./metadata.ts";
import { uploadTooLarge } from "./request-body.ts";
import { fetchSource } from "./source-fetch.ts";

/** Upload fields shared by `POST /images/v1` and `POST /images/v2/direct_upload`. */
export interface UploadFields {
  id?: string;
  metadata?: Record<string, unknown>;
  requireSignedURLs?: boolean;
  creator?: string;
}

/** Cloudflare's limit on a custom id, in characters (Unicode code points). */
const MAX_ID_LENGTH = 1024;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Control characters (C0, DEL, C1) and halves of surrogate pairs that lost their other half. */
const UNPRINTABLE = /[\p{Cc}\p{Cs}]/u;

/** Reads the optional fields of an upload form; the SDK sends `metadata` as JSON text or as `metadata[key]` fields. */
export function parseUploadFields(form: FormData): UploadFields {
  const text = (name: string): string | undefined => {
    const v = form.get(name);
    if (v === null) return undefined;
    if (typeof v !== "string") throw badRequest(`${name} must be a text field`);
    return v;
  };
  return {
    id: parseImageId(text("id")),
    metadata: parseMetadata(text("metadata"), form),
    requireSignedURLs: parseBoolean(text("requireSignedURLs"), "requireSignedURLs"),
    creator: parseCreator(text("creator")),
  };
}

/**
 * Validates a custom image id as Cloudflare allows them: 1–1024 characters of any Unicode text except control
 * characters, made of `/`-separated segments that are neither empty (so no leading, trailing or doubled `/`) nor
 * `.` or `..`, and not shaped like a UUID, which is what generated ids look like.
 */
export function parseImageId(id: unknown): string | undefined {
  if (id === undefined || id === "") return undefined;
  const rule = `id must be 1–${MAX_ID_LENGTH} characters without control characters, in /-separated segments that are not empty, "." or "..", and not a UUID`;
  if (typeof id !== "string") throw badRequest(`${rule}; got ${quote(id)}`);
  const refuse = (why: string) => badRequest(`${rule}; ${quote(id)} ${why}`);
  const length = [...id].length;
  if (length > MAX_ID_LENGTH) throw refuse(`is ${length} characters long`);
  if (UNPRINTABLE.test(id)) throw refuse("has a control character");
  if (id.split("/").some((segment) => segment === "" || segment === "." || segment === "..")) throw refuse("has an empty, . or .. segment");
  if (UUID.test(id)) throw refuse("is a UUID");
  return id;
}

export function parseCreator(creator: unknown): string | undefined {
  if (creator === undefined || creator === null || creator === "") return undefined;
  if (typeof creator !== "string" || creator.length > 1024) throw badRequest("creator must be a string of at most 1024 characters");
  return creator;
}

/**
 * Parses and bounds user metadata: a JSON object of at most 1024 bytes, given as JSON (text or a parsed body) or,
 * in a form, as the SDK's `metadata[key]` fields (see metadataFromFormFields for how their types are read).
 */
export function parseMetadata(raw: unknown, form?: FormData): Record<string, unknown> | undefined {
  let value: unknown = raw;
  const fromFields = form && metadataFromFormFields(form);
  if (typeof raw === "string") {
    if (fromFields) throw badRequest("send metadata either as one JSON text field or as metadata[key] fields, not both");
    try {
      value = JSON.parse(raw);
    } catch {
      throw badRequest("metadata must be a JSON object");
    }
  } else if (value === undefined) {
    value = fromFields;
  }
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "object" || Array.isArray(value)) throw badRequest("metadata must be a JSON object");
  checkMetadataSize(value);
  return value as Record<string, unknown>;
}

/**
 * Checks an upload's bytes against the limits from its header alone, before anything is stored or decoded, and
 * gives what is to be stored (an SVG sanitised) with its header.
 */
export function inspectUpload<T extends { bytes: Uint8Array }>(upload: T, config: Config): T & { header: ImageHeader } {
  const { bytes } = upload;
  if (bytes.length === 0) throw badRequest("file is empty");
  if (bytes.length > config.limits.maxUploadBytes) throw uploadTooLarge("file", bytes.length, config);
  const stored = storedOriginal(bytes, probeUpload(bytes), config.limits);
  checkImageLimits(stored.header, config.limits);
  checkAnimationLimits(stored.bytes, stored.header, config.limits);
  return { ...upload, ...stored };
}

/** Reads an upload's `file` field, or fetches its `url`, bounded by the upload limit. */
export async function readUploadSource(form: FormData, config: Config): Promise<{ bytes: Uint8Array; filename?: string }> {
  const file = form.get("file");
  const url = form.get("url");
  if (file && url) throw badRequest("send either file or url, not both");
  if (file && typeof file !== "string") {
    if (file.size > config.limits.maxUploadBytes) throw uploadTooLarge("file", file.size, config);
    return { bytes: new Uint8Array(await file.arrayBuffer()), filename: file.name || undefined };
  }
  if (typeof url === "string" && url) return fetchSource(url, config);
  throw badRequest("an image is required: send a multipart form with a file field (or a url field)");
}

/** Fails early, before anything is stored, when the account is full (the insert itself enforces the limit). */
export async function checkImageAllowance(db: Db, config: Config): Promise<void> {
  const current = await countImages(db);
  if (current >= config.maxImages) throw imageLimitReached(current, config);
}

export function imageLimitReached(current: number, config: Config): ApiError {
  return new ApiError(403, ErrorCode.forbidden, `image limit reached: the account holds ${current} images of ${config.maxImages} allowed (MAX_IMAGES)`);
}

/**
 * Stores a checked upload and queues it. The steps are ordered so that a Worker dying between any two leaves
 * either nothing or an image that reaches a terminal state by itself:
 *   1. the coordinator reserves the id for this life (its alarm will finish or undo the upload);
 *   2. the original goes to R2 under the life;
 *   3. the D1 record is inserted, with the image limit checked in the same statement;
 *   4. the coordinator accepts: the job is queued.
 * Dying after 1 or 2: the alarm finds no record and removes the original. After 3: the alarm queues the image.
 * A step that fails (rather than dies) undoes what was written and the client sees an error it can retry.
 */
export async function ingestUpload(
  env: GatewayEnv,
  config: Config,
  request: Request,
  upload: { bytes: Uint8Array; filename?: string; header: ImageHeader; fields: UploadFields },
  trace: UploadTrace = {},
): Promise<ImageRow> {
  const id = upload.fields.id ?? crypto.randomUUID();
  const image = { storageId: await imageStorageId(id), life: newLife() };
  const coordinator = coordinatorOf(env, id);
  const phases = (trace.phases ??= {});
  let started = Date.now();
  if (!(await coordinator.reserveUpload(id, image.life, originalKey(image), trace.requestId))) throw idTaken(id);
  faultPoint(config, request, "reserved");

  const giveUp = async () => {
    await env.BUCKET.delete(originalKey(image)).catch(() => {});
    await coordinator.abandonUpload(image.life);
  };
  try {
    await storeOriginal(env, image, upload.bytes, upload.header);
  } catch (error) {
    await giveUp();
    throw new ApiError(503, ErrorCode.unavailable, `the upload could not be stored, nothing was kept; try again (${describeError(error)})`);
  }
  faultPoint(config, request, "original-stored");

  const db = database(primary(env.DB));
  const outcome = await insertImageRecord(
    db,
    {
      id,
      life: image.life,
      filename: upload.filename ?? null,
      uploaded: nowIso(),
      requireSignedUrls: upload.fields.requireSignedURLs ?? false,
      meta: upload.fields.metadata ?? {},
      creator: upload.fields.creator ?? null,
      status: "queued",
      ...originalColumns(upload.header, upload.bytes.length),
    },
    config.maxImages,
  ).catch(async (error) => {
    await giveUp();
    throw new ApiError(503, ErrorCode.unavailable, `the upload could not be recorded, nothing was kept; try again (${describeError(error)})`);
  });
  if ("refused" in outcome) {
    await giveUp();
    throw outcome.refused === "taken" ? idTaken(id) : imageLimitReached(config.maxImages, config);
  }
  faultPoint(config, request, "recorded");
  phases.store = since(started);
  started = Date.now();

  // The upload is durable from here: if accepting fails, the reservation's alarm queues it within a minute.
  const state = await coordinator.accept(id, image.life, trace.requestId).catch(() => undefined);
  phases.enqueue = since(started);
  return state ? withStatus(outcome.inserted, state) : outcome.inserted;
}

/** What an upload's log line learns from ingesting it: its request id in, its timings by phase out. */
export interface UploadTrace {
  requestId?: string;
  phases?: PhaseTimings;
}

export function idTaken(id: string): ApiError {
  return new ApiError(409, ErrorCode.conflict, `an image with id ${JSON.stringify(id)} already exists`);
}

/** A row as the coordinator's transition just mirrored it into D1, without reading it back. */
export function withStatus(row: ImageRow, state: CoordinatorState): ImageRow {
  return { ...row, status: state.status as ImageStatus, error: null, updatedAt: state.updatedAt };
}

export async function storeOriginal(env: GatewayEnv, image: StoredImage, bytes: Uint8Array, header: ImageHeader): Promise<void> {
  await env.BUCKET.put(originalKey(image), bytes, {
    httpMetadata: { contentType: CONTENT_TYPES[header.format] },
    customMetadata: { width: String(header.width), height: String(header.height), format: header.format },
  });
}
