import { CONTENT_TYPES, type ImageHeader } from "../../wasm/src/probe.ts";
import type { IncomingClaim } from "../shared/bindings.ts";
import { parseConfig } from "../shared/config.ts";
import { coordinatorOf } from "../shared/coordinators.ts";
import { database, nowIso, primary } from "../shared/db.ts";
import { ApiError, ErrorCode, badRequest, describeError } from "../shared/errors.ts";
import { SimulatedCrash } from "../shared/faults.ts";
import { findImageIdByLife, originalColumns, updateImageLife } from "../shared/image-records.ts";
import { isObjectCreate, parseR2EventNotification, type R2EventNotification } from "../shared/r2-notifications.ts";
import { imageIdOfStorageId, imageStorageId, parseIncomingKey } from "../shared/storage.ts";
import { checkRenderable } from "../shared/render-admission.ts";
import { checkAnimationLimits, checkImageLimits, checkUploadLimits, overUploadUrlBytes, probeUpload, storedOriginal } from "../shared/upload-checks.ts";
import type { ProcessorEnv } from "./env.ts";
import { probeStoredPrefix } from "./pipeline/stored-original.ts";

/** A notification whose object another processor is moving is looked at again this much later. */
const BUSY_RETRY_SECONDS = 30;

/** What became of one notification. */
export type IncomingOutcome = "accepted" | "failed" | "skipped" | "busy" | "missing" | "replaced" | "ignored";

/** Steps a test can make the ingest die after (FAULT_INJECTION=enabled only). */
export type IncomingStep = "claimed" | "original-stored" | "recorded" | "incoming-deleted";

/**
 * Consumes `image-uploads` (R2's event notifications) or, with `deadLetters`, its dead-letter queue. Messages run
 * one after another: each may move up to MAX_DIRECT_UPLOAD_BYTES.
 */
export async function consumeUploadNotifications(batch: MessageBatch, env: ProcessorEnv, deadLetters: boolean): Promise<void> {
  for (const message of batch.messages) {
    let notification: R2EventNotification;
    try {
      notification = parseR2EventNotification(message.body);
    } catch (error) {
      console.error(describeError(error));
      message.ack();
      continue;
    }
    if (deadLetters) {
      // The image's coordinator alarm still finishes or fails it; this only leaves a trace.
      console.error(`R2 notification for ${notification.object.key} (${notification.action}) ran out of retries`);
      message.ack();
      continue;
    }
    try {
      const outcome = await ingestIncoming(env, notification);
      if (outcome === "busy") message.retry({ delaySeconds: BUSY_RETRY_SECONDS });
      else message.ack();
      if (outcome === "missing" || outcome === "replaced") console.log(`R2 notification for ${notification.object.key}: the object is ${outcome === "missing" ? "gone" : "replaced"}`);
    } catch (error) {
      console.error(`R2 notification for ${notification.object.key} failed (attempt ${message.attempts}), retrying:`, describeError(error));
      message.retry({ delaySeconds: Math.min(60, 2 ** message.attempts) });
    }
  }
}

/**
 * Takes a direct-to-R2 upload from R2's notification of its `incoming/` object into the flow every upload follows.
 * The coordinator first says whether this draft is waiting for its file (and gives one processor at a time the
 * object); then, in this order: the limits from the object's size and its header alone (a ranged read), the copy
 * to originals/, the original's facts in D1, the incoming object deleted, and the coordinator's accept, which
 * queues the job. A file that breaks a limit ends `failed` naming it, and its object is removed. Dying between any
 * two steps, the notification's redelivery takes over, or else the coordinator's alarm finishes (the record holds
 * the original) or fails the image.
 */
export async function ingestIncoming(env: ProcessorEnv, notification: R2EventNotification, crashAfter?: IncomingStep): Promise<IncomingOutcome> {
  const config = parseConfig(env, false);
  const crash = (step: IncomingStep) => {
    if (config.faultInjection && crashAfter === step) throw new SimulatedCrash(step);
  };
  const { key, size, eTag: etag } = notification.object;
  const image = parseIncomingKey(key);
  if (notification.bucket !== config.directUploads.bucketName || !isObjectCreate(notification) || !image || size === undefined || !etag) return "ignored";

  const db = database(primary(env.DB));
  // A readable storage id is the id escaped; a hashed one (ids past 900 bytes) is found by its life in D1.
  const imageId = imageIdOfStorageId(image.storageId) ?? (await findImageIdByLife(db, image.life));
  if (imageId === undefined || (await imageStorageId(imageId)) !== image.storageId) {
    await env.BUCKET.delete(key);
    return "skipped";
  }
  const coordinator = coordinatorOf(env, imageId);
  const claim = await coordinator.beginIncoming(image.life, { size, etag });
  if (claim.action === "busy") return "busy";
  if (claim.action === "skip") {
    // A duplicate, late or second PUT: the object is only ever deleted, never moved over an accepted original.
    await env.BUCKET.delete(key);
    return "skipped";
  }
  crash("claimed");

  try {
    const header = await checkIncoming(env.BUCKET, key, etag, size, claim, (prefix, found) => {
      checkAnimationLimits(prefix, found, config.limits);
      return checkRenderable(db, prefix, found, size, config);
    });
    if (header === "missing" || header === "replaced") {
      await coordinator.releaseIncoming(image.life, etag);
      return header;
    }
    // An SVG is sanitised on its way to originals/ (what is stored is what is served), others are copied as they are.
    const moved = header.format === "svg"
      ? await sanitiseToOriginals(env.BUCKET, key, etag, claim.originalKey, config.limits)
      : await moveToOriginals(env.BUCKET, key, etag, claim.originalKey, header);
    if (typeof moved === "string" && moved !== "moved") {
      await coordinator.releaseIncoming(image.life, etag);
      return moved;
    }
    const stored = typeof moved === "string" ? { header, size } : moved;
    crash("original-stored");
    const recorded = await updateImageLife(db, imageId, image.life, { uploaded: nowIso(), ...originalColumns(stored.header, stored.size) });
    if (!recorded) {
      // Deleted while it was being moved: nothing of this life may stay.
      await env.BUCKET.delete([claim.originalKey, key]);
      return "skipped";
    }
    crash("recorded");
    await env.BUCKET.delete(key);
    crash("incoming-deleted");
    await coordinator.accept(imageId, image.life);
    return "accepted";
  } catch (error) {
    if (error instanceof ApiError && error.permanent) {
      await coordinator.failIncoming(image.life, error.message);
      await env.BUCKET.delete(key);
      return "failed";
    }
    if (!(error instanceof SimulatedCrash)) await coordinator.releaseIncoming(image.life, etag);
    throw error;
  }
}

/**
 * Checks the object against every limit from its size and header, reading no more of it than the header needs.
 * Throws the ApiError naming the limit broken; answers whether the notified version is still there.
 */
async function checkIncoming(
  bucket: R2Bucket,
  key: string,
  etag: string,
  size: number,
  claim: Extract<IncomingClaim, { action: "ingest" }>,
  checkRenderable: (prefix: Uint8Array, header: ImageHeader) => Promise<void>,
): Promise<ImageHeader | "missing" | "replaced"> {
  if (size === 0) throw badRequest("the uploaded file is empty");
  if (size > claim.account.maxBytes) {
    throw new ApiError(413, ErrorCode.tooLarge, `the upload is ${size} bytes; direct uploads take at most ${claim.account.maxBytes} bytes (MAX_DIRECT_UPLOAD_BYTES)`);
  }
  if (claim.limits.maxBytes !== undefined && size > claim.limits.maxBytes) throw overUploadUrlBytes(size, claim.limits.maxBytes);
  let probed;
  try {
    probed = await probeStoredPrefix(
      bucket,
      key,
      probeUpload,
      // A damaged-looking header may only be cut off by the read: read further, up to the last read's length.
      (error) => error instanceof ApiError && error.status === 422,
      (bytes) => new ApiError(422, ErrorCode.unprocessable, `the image's header is not within the first ${bytes / 1024 / 1024} MiB of the file`),
      etag,
    );
  } catch (error) {
    if (error instanceof ApiError && error.status === 415) throw new ApiError(415, ErrorCode.unsupportedFormat, `the uploaded file is not an image we take: ${error.message}`);
    throw error;
  }
  if (typeof probed === "string") return probed;
  checkImageLimits(probed.header, claim.account);
  checkUploadLimits(size, probed.header, claim.limits);
  await checkRenderable(probed.prefix, probed.header);
  return probed.header;
}

/** Streams the notified version of the object to its original's key (R2 has no server-side copy in the binding). */
async function moveToOriginals(bucket: R2Bucket, key: string, etag: string, originalKey: string, header: ImageHeader): Promise<"moved" | "missing" | "replaced"> {
  const object = await bucket.get(key, { onlyIf: { etagMatches: etag } });
  if (!object) return "missing";
  if (!("body" in object)) return "replaced";
  await bucket.put(originalKey, object.body, {
    httpMetadata: { contentType: CONTENT_TYPES[header.format] },
    customMetadata: { width: String(header.width), height: String(header.height), format: header.format },
  });
  return "moved";
}

/** Reads a direct upload's SVG whole (it is at most MAX_SVG_BYTES), sanitises it and stores that as the original. */
async function sanitiseToOriginals(
  bucket: R2Bucket,
  key: string,
  etag: string,
  originalKey: string,
  limits: Parameters<typeof storedOriginal>[2],
): Promise<{ header: ImageHeader; size: number } | "missing" | "replaced"> {
  const object = await bucket.get(key, { onlyIf: { etagMatches: etag } });
  if (!object) return "missing";
  if (!("body" in object)) return "replaced";
  if (object.size > limits.maxSvgBytes) {
    await object.body.cancel();
    throw new ApiError(413, ErrorCode.tooLarge, `SVG is ${object.size} bytes; the limit is ${limits.maxSvgBytes} bytes (MAX_SVG_BYTES)`);
  }
  const original = new Uint8Array(await object.arrayBuffer());
  const { bytes, header } = storedOriginal(original, probeUpload(original), limits);
  await bucket.put(originalKey, bytes, {
    httpMetadata: { contentType: CONTENT_TYPES[header.format] },
    customMetadata: { width: String(header.width), height: String(header.height), format: header.format },
  });
  return { header, size: bytes.length };
}
