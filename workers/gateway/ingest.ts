import { eq } from "drizzle-orm";
import { CodecError } from "../../wasm/src/errors.ts";
import { CONTENT_TYPES, probeImage, type ImageHeader } from "../../wasm/src/probe.ts";
import { parseBoolean, type Config } from "../shared/config.ts";
import { coordinatorOf } from "../shared/coordinators.ts";
import { database, nowIso } from "../shared/db.ts";
import { ApiError, ErrorCode, badRequest, fromCodecError } from "../shared/errors.ts";
import { images, type ImageRow, type ImageStatus } from "../shared/schema.ts";
import { originalKey } from "../shared/storage.ts";
import type { CoordinatorState } from "./coordinator.ts";
import type { GatewayEnv } from "./env.ts";
import { countImages, deleteImageRecords, insertImageRecord } from "./records.ts";
import { uploadTooLarge } from "./request-body.ts";
import { fetchSource } from "./source-fetch.ts";

/** Upload fields shared by `POST /images/v1` and `POST /images/v2/direct_upload`. */
export interface UploadFields {
  id?: string;
  metadata?: Record<string, unknown>;
  requireSignedURLs?: boolean;
  creator?: string;
}

const MAX_METADATA_BYTES = 1024;
const MAX_ID_LENGTH = 1024;

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

export function parseImageId(id: string | undefined): string | undefined {
  if (id === undefined || id === "") return undefined;
  if (id.length > MAX_ID_LENGTH || !/^[A-Za-z0-9._~-]+$/.test(id) || id === "." || id === "..") {
    throw badRequest(`id must be 1–${MAX_ID_LENGTH} characters of letters, digits and . _ ~ -, got ${JSON.stringify(id.slice(0, 80))}`);
  }
  return id;
}

export function parseCreator(creator: unknown): string | undefined {
  if (creator === undefined || creator === null || creator === "") return undefined;
  if (typeof creator !== "string" || creator.length > 1024) throw badRequest("creator must be a string of at most 1024 characters");
  return creator;
}

/** Parses and bounds user metadata: a JSON object of at most 1024 bytes. */
export function parseMetadata(raw: unknown, form?: FormData): Record<string, unknown> | undefined {
  let value: unknown = raw;
  if (typeof raw === "string") {
    try {
      value = JSON.parse(raw);
    } catch {
      throw badRequest("metadata must be a JSON object");
    }
  }
  if (value === undefined && form) {
    const bracketed: Record<string, string> = {};
    for (const [key, v] of form.entries()) {
      const m = /^metadata\[(.+)\]$/.exec(key);
      if (m && typeof v === "string") bracketed[m[1]] = v;
    }
    if (Object.keys(bracketed).length > 0) value = bracketed;
  }
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "object" || Array.isArray(value)) throw badRequest("metadata must be a JSON object");
  const size = new TextEncoder().encode(JSON.stringify(value)).length;
  if (size > MAX_METADATA_BYTES) throw badRequest(`metadata is ${size} bytes; the limit is ${MAX_METADATA_BYTES} bytes`);
  return value as Record<string, unknown>;
}

/** Checks an upload's bytes against the limits from its header alone, before anything is stored or decoded. */
export function inspectUpload(bytes: Uint8Array, config: Config): ImageHeader {
  if (bytes.length === 0) throw badRequest("file is empty");
  if (bytes.length > config.limits.maxUploadBytes) throw uploadTooLarge("file", bytes.length, config);
  let header: ImageHeader;
  try {
    header = probeImage(bytes);
  } catch (error) {
    if (error instanceof CodecError) throw fromCodecError(error);
    throw error;
  }
  const { maxSide, maxPixels } = config.limits;
  if (header.width > maxSide || header.height > maxSide) {
    throw new ApiError(413, ErrorCode.tooLarge, `image is ${header.width}×${header.height} px; the limit is ${maxSide} px a side (MAX_SIDE)`);
  }
  const megapixels = (header.width * header.height) / 1e6;
  if (header.width * header.height > maxPixels) {
    throw new ApiError(
      413,
      ErrorCode.tooLarge,
      `image is ${megapixels.toFixed(1)} megapixels; the limit is ${(maxPixels / 1e6).toFixed(0)} megapixels (MAX_PIXELS)`,
    );
  }
  return header;
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

/** Fails with a clear error when the account already holds as many images as it may. */
export async function checkImageAllowance(env: GatewayEnv, config: Config): Promise<void> {
  const current = await countImages(database(env.DB));
  if (current >= config.maxImages) {
    throw new ApiError(403, ErrorCode.forbidden, `image limit reached: the account holds ${current} images of ${config.maxImages} allowed (MAX_IMAGES)`);
  }
}

/** Original facts recorded in D1 once the bytes are stored. */
export function originalColumns(header: ImageHeader, bytes: Uint8Array) {
  return {
    format: header.format,
    contentType: CONTENT_TYPES[header.format],
    width: header.width,
    height: header.height,
    orientation: header.orientation,
    hasAlpha: header.hasAlpha,
    bytes: bytes.length,
  };
}

/**
 * Stores a checked upload and queues it: claim the id in D1, write the original to R2, hand over to the
 * coordinator. Answers as soon as the original is durable and the job enqueued. If a step fails, what was
 * written is taken back and the client sees an error it can retry.
 */
export async function ingestUpload(
  env: GatewayEnv,
  config: Config,
  upload: { bytes: Uint8Array; filename?: string; header: ImageHeader; fields: UploadFields },
): Promise<ImageRow> {
  const db = database(env.DB);
  const id = upload.fields.id ?? crypto.randomUUID();
  const row: typeof images.$inferInsert = {
    id,
    filename: upload.filename ?? null,
    uploaded: nowIso(),
    requireSignedUrls: upload.fields.requireSignedURLs ?? false,
    meta: JSON.stringify(upload.fields.metadata ?? {}),
    creator: upload.fields.creator ?? null,
    status: "queued",
    ...originalColumns(upload.header, upload.bytes),
  };
  const inserted = await insertImageRecord(db, row);
  if (!inserted) throw new ApiError(409, ErrorCode.conflict, `an image with id ${JSON.stringify(id)} already exists`);
  try {
    await storeOriginal(env, id, upload.bytes, upload.header);
    return withStatus(inserted, await coordinatorOf(env, id).accept(id, originalKey(id)));
  } catch (error) {
    await env.BUCKET.delete(originalKey(id)).catch(() => {});
    await deleteImageRecords(db, id);
    throw new ApiError(503, ErrorCode.unavailable, `the upload could not be stored, nothing was kept; try again (${(error as Error).message})`);
  }
}

/** A row as the coordinator's transition just mirrored it into D1, without reading it back. */
export function withStatus(row: ImageRow, state: CoordinatorState): ImageRow {
  return { ...row, status: state.status as ImageStatus, error: null, updatedAt: state.updatedAt };
}

export async function storeOriginal(env: GatewayEnv, id: string, bytes: Uint8Array, header: ImageHeader): Promise<void> {
  await env.BUCKET.put(originalKey(id), bytes, {
    httpMetadata: { contentType: CONTENT_TYPES[header.format] },
    customMetadata: { width: String(header.width), height: String(header.height), format: header.format },
  });
}
