import type { MiddlewareHandler } from "hono";
import { ApiError, ErrorCode } from "../shared/errors.ts";
import { slotGate } from "../shared/slot-gate.ts";
import type { GatewayContext } from "./app.ts";

/** Seconds a client refused by a full upload queue should wait. */
export const UPLOAD_RETRY_AFTER_SECONDS = 2;

const withUploadSlot = slotGate({
  slots: 4,
  maxWaiting: 64,
  maxWaitMs: 30_000,
  maxHoldMs: 120_000,
  busy: () =>
    new ApiError(503, ErrorCode.unavailable, "too many uploads are being received here at once (UPLOAD_CONCURRENCY); try again shortly", {
      "retry-after": String(UPLOAD_RETRY_AFTER_SECONDS),
    }),
});

/**
 * Multipart uploads (with a token or through a one-time upload URL, which anyone holding it may use) are read and
 * stored UPLOAD_CONCURRENCY at a time per isolate: each holds its file in memory, so forty at once would be
 * 40 × MAX_UPLOAD_BYTES in a 128 MB isolate; the others wait (their bodies unread, so the client is held back by
 * the connection itself), at most 64 of them and 30 s each, then 503 with Retry-After. A second and later upload
 * also waits while the isolate's event loop runs late (UPLOAD_MAX_LAG_MS), so a burst of uploads cannot starve the
 * deliveries this isolate serves: locally, where the R2 and D1 emulators share that thread, a burst is taken in
 * one at a time. Direct-to-R2 uploads never pass here.
 */
export const uploadGate: MiddlewareHandler<GatewayContext> = (c, next) => {
  const { uploadConcurrency, uploadMaxLagMs } = c.get("config").limits;
  return withUploadSlot(() => next(), uploadConcurrency, uploadMaxLagMs);
};
