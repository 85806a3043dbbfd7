import { DurableObject } from "cloudflare:workers";
import type { ClaimResult, CoordinatorApi, CoordinatorState, IncomingClaim, IncomingObject, UploadCheck, UploadLimits } from "../shared/bindings.ts";
import { parseConfig, type Config } from "../shared/config.ts";
import { constantTimeEqual } from "../shared/crypto.ts";
import { database, nowIso, primary } from "../shared/db.ts";
import { ErrorCode, describeError } from "../shared/errors.ts";
import { emitImageEvent } from "../shared/events.ts";
import { carriedRequestId, log } from "../shared/log.ts";
import { deleteImageRecords, findImageLife, updateImageLife } from "../shared/image-records.ts";
import type { ProcessJob, StatusEvent } from "../shared/messages.ts";
import { drawsLayers, RENDER_RETRY_AFTER_SECONDS, type RenderRequest, type RenderResponse } from "../shared/render.ts";
import { renditionEtag, storeRenditions } from "../shared/renditions.ts";
import { nextTurn } from "../shared/timers.ts";
import { imageStorageId, incomingKey } from "../shared/storage.ts";
import type { ImageStatus } from "../shared/schema.ts";
import { recordRenderSample, renderSampleMs } from "../shared/pipeline-stats.ts";
import { outputSizeOf } from "../shared/geometry.ts";
import type { GatewayEnv } from "./env.ts";

export type { CoordinatorState };

const TERMINAL: readonly ImageStatus[] = ["ready", "failed", "deleted"];
/** How long a direct upload that spent its token may take to store its file before the alarm recovers it. */
const DRAFT_UPLOAD_GRACE_MS = 2 * 60 * 1000;
/**
 * How long a processor may take to check a direct-to-R2 object and move it to originals/ before another may take
 * it over; the alarm recovers it one more lease later (time for the notification's redelivery to do so first).
 */
const INCOMING_LEASE_MS = 2 * 60 * 1000;
/** How long an API upload may take from reserving its id to being accepted before the alarm recovers it. */
const RESERVATION_MS = 60 * 1000;
/** How soon an image event the queue refused is sent again. */
const EVENT_RETRY_MS = 30 * 1000;
/** A queued job nobody claims is enqueued again after QUEUE_CLAIM_SECONDS, doubling each time, this many times. */
const MAX_REQUEUES = 8;

/**
 * One per image id. Owns the image's lifecycle `draft → queued → processing → ready | failed` (+ `deleted`),
 * makes every transition idempotent, leases processing to one consumer at a time (an alarm hands a job out again
 * when its processor dies), recovers uploads whose Worker died half-way, guards the one-time direct-upload token,
 * commits on-demand renders only while their life is current, mirrors status into D1 and fans state changes out
 * to Server-Sent-Event subscribers.
 */
export class ImageCoordinator extends DurableObject<GatewayEnv> implements CoordinatorApi {
  private state!: CoordinatorState;
  private readonly config: Config;
  private readonly subscribers = new Set<WritableStreamDefaultWriter<Uint8Array>>();
  /** On-demand renders asked for and not yet stored, by output: a second request for one joins the first. */
  private readonly renders = new Map<string, Promise<RenderResponse>>();
  /** Outputs asked for while a render is with the processor: its next call takes them together. */
  private readonly waiting: WaitingRender[] = [];
  private rendering = false;
  /** Renditions being written; a delete waits for them so nothing lands after it. */
  private readonly commits = new Set<Promise<void>>();
  private heartbeat: ReturnType<typeof setInterval> | undefined;

  constructor(ctx: DurableObjectState, env: GatewayEnv) {
    super(ctx, env);
    this.config = parseConfig(env, false);
    ctx.blockConcurrencyWhile(async () => {
      const stored = await ctx.storage.get<CoordinatorState>("state");
      this.state = { imageId: "", status: "none", life: "", generation: 0, attempts: 0, requeues: 0, updatedAt: nowIso(), ...stored };
    });
  }

  snapshot(): CoordinatorState {
    return this.state;
  }

  /**
   * Claims the id for an API upload before its original is written. Refused while the id is in use (including
   * by another upload in flight). If the upload never calls `accept`, the alarm finishes or undoes it.
   */
  async reserveUpload(imageId: string, life: string, originalKey: string, requestId?: string): Promise<boolean> {
    if (!this.isUnused()) return false;
    const until = Date.now() + RESERVATION_MS;
    await this.save({ ...this.freshLife(), imageId, life, reservation: { life, originalKey, until }, requestId: carriedRequestId(requestId) }, until);
    return true;
  }

  /** Registers a direct upload: the image exists as a draft until its one-time URL is used. */
  async createDraft(
    imageId: string,
    life: string,
    originalKey: string,
    tokenHash: string,
    expiresAt: number,
    limits: UploadLimits = {},
    requestId?: string,
  ): Promise<boolean> {
    if (!this.isUnused()) return false;
    const upload = { tokenHash, expiresAt, used: false, limits };
    await this.transition({ ...this.freshLife(), imageId, life, originalKey, status: "draft", upload, requestId: carriedRequestId(requestId) }, expiresAt);
    return true;
  }

  /** Validates a one-time upload token without spending it, so a bad token is refused before any body is read. */
  async checkUploadToken(tokenHash: string): Promise<UploadCheck> {
    const upload = this.state.upload;
    if (!upload || !(await constantTimeEqual(upload.tokenHash, tokenHash))) return { ok: false, reason: "unknown" };
    if (upload.used || this.state.status !== "draft") return { ok: false, reason: "used" };
    if (Date.now() > upload.expiresAt) return { ok: false, reason: "expired" };
    return { ok: true, limits: upload.limits ?? {} };
  }

  /** Whether the token is this life's upload token, spent or not: it lets the uploader watch the image's events. */
  async holdsUploadToken(tokenHash: string): Promise<boolean> {
    const upload = this.state.upload;
    return !!upload && this.state.status !== "deleted" && (await constantTimeEqual(upload.tokenHash, tokenHash));
  }

  /** Consumes the one-time upload token. A second use, or one after expiry, is refused. */
  async beginDirectUpload(tokenHash: string): Promise<UploadCheck> {
    const check = await this.checkUploadToken(tokenHash);
    if (check.ok) {
      const usedAt = Date.now();
      await this.save({ upload: { ...this.state.upload!, used: true, usedAt } }, usedAt + DRAFT_UPLOAD_GRACE_MS);
    }
    return check;
  }

  /** Gives the token back when storing the upload failed, so the user can try again. */
  async abortDirectUpload(): Promise<void> {
    if (this.state.status === "draft" && this.state.upload) {
      await this.save({ upload: { ...this.state.upload, used: false, usedAt: undefined } }, this.state.upload.expiresAt);
    }
  }

  /**
   * R2 notified that the draft's `incoming/` object arrived. Answers whether a processor should check and move it:
   * only while this life is a draft waiting for its file, and to one processor at a time. A duplicate or late
   * notification, a second `PUT` after the file was taken, or one after the upload URL was used is skipped (and
   * its object deleted by the caller), so the accepted original is never replaced. The upload URL counts as used
   * from here, so a multipart upload cannot race the object.
   */
  async beginIncoming(life: string, object: { size: number; etag: string }): Promise<IncomingClaim> {
    const s = this.state;
    const upload = s.upload;
    if (s.life !== life) return { action: "skip", reason: "the object is not of the image's current upload" };
    if (s.status !== "draft" || !upload || !s.originalKey) return { action: "skip", reason: `image is ${s.status}` };
    if (upload.used && !upload.incoming) return { action: "skip", reason: "the upload URL was already used" };
    const now = Date.now();
    if (upload.incoming && upload.incoming.leaseUntil > now) return { action: "busy" };
    const leaseUntil = now + INCOMING_LEASE_MS;
    await this.save({ upload: { ...upload, used: true, usedAt: now, incoming: { ...object, leaseUntil } } }, leaseUntil + INCOMING_LEASE_MS);
    const { maxPixels, maxSide } = this.config.limits;
    return { action: "ingest", originalKey: s.originalKey, limits: upload.limits ?? {}, account: { maxBytes: this.config.directUploads.maxBytes, maxPixels, maxSide } };
  }

  /** The object notified is gone or was replaced meanwhile: the draft waits for its file again (and expires as before). */
  async releaseIncoming(life: string, etag: string): Promise<void> {
    const upload = this.state.upload;
    if (this.state.status !== "draft" || this.state.life !== life || upload?.incoming?.etag !== etag) return;
    await this.save({ upload: { ...upload, used: false, usedAt: undefined, incoming: undefined } }, upload.expiresAt);
  }

  /** The direct-to-R2 file broke a limit or is no image: the draft ends `failed` with the reason. */
  async failIncoming(life: string, reason: string): Promise<void> {
    const upload = this.state.upload;
    if (this.state.status !== "draft" || this.state.life !== life || !upload?.incoming) return;
    await this.transition({ status: "failed", error: reason, upload: { ...upload, incoming: undefined } }, null);
  }

  /** The original is durably in R2 and its record in D1: queue the image for processing. Idempotent. */
  async accept(imageId: string, life: string, requestId?: string): Promise<CoordinatorState> {
    const { reservation } = this.state;
    // A direct upload's job carries the request that sent the file, not the one that created the URL.
    const carried = carriedRequestId(requestId) ?? this.state.requestId;
    if (reservation?.life === life) {
      await this.enqueue({ imageId, originalKey: reservation.originalKey, reservation: undefined, requestId: carried });
    } else if (this.state.status === "draft" && this.state.life === life && this.state.originalKey) {
      await this.enqueue({ imageId, originalKey: this.state.originalKey, requestId: carried });
    }
    return this.state;
  }

  /** The upload gave up before its record was written (id taken, limit reached): the id is free again. */
  async abandonUpload(life: string): Promise<void> {
    if (this.state.reservation?.life === life) await this.save({ reservation: undefined, life: "" }, null);
  }

  /**
   * Renders an output on demand through the processor. Concurrent requests for the same output share one render,
   * and distinct outputs asked for while a render is with the processor go to it together in its next call, one
   * read and one decode of the original for all (takeBatch): a burst of first requests for an image's widths
   * costs a decode or two, not one per width, and a render alone waits for nothing. The bytes are answered at
   * once and stored in the background, unless the image's life ended meanwhile; until they are stored, later
   * requests for an output are answered the same bytes rather than rendering again.
   */
  async render(request: RenderRequest): Promise<RenderResponse> {
    const gone = this.refuseRender(request.source.life);
    if (gone) return gone;
    const key = `${request.fingerprint}.${request.format}`;
    let pending = this.renders.get(key);
    if (!pending) {
      if (this.waiting.length >= RENDER_QUEUE_LIMIT) {
        return { ok: false, status: 503, code: ErrorCode.unavailable, message: `${RENDER_QUEUE_LIMIT} renders of this image are waiting already; try again shortly`, retryAfter: RENDER_RETRY_AFTER_SECONDS };
      }
      pending = new Promise((resolve) => this.waiting.push({ request, answer: resolve, settled: () => this.renders.delete(key) }));
      this.renders.set(key, pending);
      if (!this.rendering) void this.renderWaiting();
    }
    return pending;
  }

  /** A processor asks to work on the image. Only one holds the lease; duplicates and late deliveries skip. */
  async claim(generation: number, requestId?: string): Promise<ClaimResult> {
    const s = this.state;
    if (TERMINAL.includes(s.status as ImageStatus)) return { action: "skip", reason: `image is ${s.status}` };
    if (s.status === "processing" && s.leaseUntil && s.leaseUntil > Date.now()) {
      return { action: "skip", reason: "another processor holds the lease" };
    }
    if (s.status !== "queued" && s.status !== "processing") return { action: "skip", reason: `image is ${s.status}` };
    if (generation < s.generation - 1) return { action: "skip", reason: `stale job generation ${generation}` };
    const leaseUntil = Date.now() + this.config.leaseSeconds * 1000;
    await this.transition({ status: "processing", attempts: s.attempts + 1, leaseUntil, queuedUntil: undefined }, leaseUntil, requestId);
    return { action: "process", attempt: s.attempts + 1, life: s.life };
  }

  /**
   * The renditions of `life` are stored. Answers the resulting status; anything but `ready` tells the processor
   * that the life is over (deleted, or the id uploaded again) and what it wrote must go.
   */
  async complete(life: string, requestId?: string): Promise<ImageStatus | "none"> {
    if (life !== this.state.life) return "deleted";
    if (this.state.status !== "processing" && this.state.status !== "queued") return this.state.status;
    await this.transition({ status: "ready", leaseUntil: undefined, queuedUntil: undefined, error: undefined }, null, requestId);
    return "ready";
  }

  /** Records a terminal failure with a readable reason. The original is kept. */
  async fail(reason: string, requestId?: string): Promise<void> {
    if (TERMINAL.includes(this.state.status as ImageStatus)) return;
    await this.transition({ status: "failed", error: reason, leaseUntil: undefined, queuedUntil: undefined }, null, requestId);
  }

  /** A transient failure: the queue will deliver the job again; the image goes back to `queued`. */
  async release(error: string, requestId?: string): Promise<void> {
    if (this.state.status !== "processing") return;
    const queuedUntil = Date.now() + this.claimTimeoutMs(this.state.requeues);
    await this.transition({ status: "queued", lastError: error, leaseUntil: undefined, queuedUntil }, queuedUntil, requestId);
  }

  /** Ends the image's life: no job can start or complete, and renditions still being written land before this returns. */
  async markDeleted(requestId?: string): Promise<void> {
    if (this.state.status !== "deleted" || this.state.reservation) {
      await this.transition({ status: "deleted", leaseUntil: undefined, queuedUntil: undefined, upload: undefined, reservation: undefined }, null, requestId);
    }
    await Promise.allSettled([...this.commits]);
  }

  /** A deadline passed: send an owed event, recover an upload, expire a draft, or hand a job out again (or give up). */
  async alarm(): Promise<void> {
    const s = this.state;
    const now = Date.now();
    if (s.eventPending && TERMINAL.includes(s.status as ImageStatus)) {
      await this.sendPendingEvent();
      return;
    }
    if (s.reservation) {
      if (now >= s.reservation.until) await this.recoverUpload(s.reservation);
      else await this.ctx.storage.setAlarm(s.reservation.until);
      return;
    }
    if (s.status === "draft") {
      await this.expireDraft(now);
      return;
    }
    if (!s.originalKey) return;
    if (s.status === "processing" && (s.leaseUntil ?? 0) <= now) {
      if (s.attempts >= this.config.maxAttempts) {
        const last = s.lastError ? `; last error: ${s.lastError}` : "";
        await this.fail(`processing did not finish after ${s.attempts} attempts (lease ${this.config.leaseSeconds} s each)${last}`);
        return;
      }
      await this.enqueue({ imageId: s.imageId, originalKey: s.originalKey });
    } else if (s.status === "queued" && (s.queuedUntil ?? 0) <= now) {
      if (s.requeues >= MAX_REQUEUES) {
        await this.fail(`no processor picked the job up after ${s.requeues} re-enqueues`);
        return;
      }
      await this.enqueue({ imageId: s.imageId, originalKey: s.originalKey, requeues: s.requeues + 1 });
    }
  }

  /**
   * The Worker that reserved this upload died before accepting it. Its D1 record (written after the original)
   * decides: there, the upload is complete and is queued; not there, the original it may have written is removed.
   */
  private async recoverUpload(reservation: NonNullable<CoordinatorState["reservation"]>): Promise<void> {
    const row = await findImageLife(database(primary(this.env.DB)), this.state.imageId, reservation.life);
    if (row) {
      await this.enqueue({ imageId: this.state.imageId, originalKey: reservation.originalKey, reservation: undefined });
      return;
    }
    await this.env.BUCKET.delete(reservation.originalKey);
    await this.save({ reservation: undefined, life: "" }, null);
  }

  /**
   * An unused direct upload past its expiry is removed: its record and counter entry go, and the id may be used
   * again. An upload that began before expiry gets a grace period to finish storing its file; if its Worker died
   * after recording the file, the image is queued rather than removed.
   */
  private async expireDraft(now: number): Promise<void> {
    const upload = this.state.upload;
    if (!upload) return;
    if (upload.incoming) return this.recoverIncoming(upload.incoming, now);
    const deadline = upload.used ? (upload.usedAt ?? upload.expiresAt) + DRAFT_UPLOAD_GRACE_MS : upload.expiresAt;
    if (now < deadline) {
      await this.ctx.storage.setAlarm(deadline);
      return;
    }
    const db = database(primary(this.env.DB));
    if (upload.used && this.state.originalKey) {
      const row = await findImageLife(db, this.state.imageId, this.state.life);
      if (row?.format) {
        await this.enqueue({ imageId: this.state.imageId, originalKey: this.state.originalKey });
        return;
      }
      await this.env.BUCKET.delete(this.state.originalKey);
    }
    // A presigned PUT whose notification never came (or came for a draft already gone) leaves its object here.
    await this.env.BUCKET.delete(incomingKey({ storageId: await imageStorageId(this.state.imageId), life: this.state.life }));
    await deleteImageRecords(db, this.state.imageId, this.state.life);
    await this.transition({ status: "deleted", upload: undefined }, null);
  }

  /**
   * A processor took the draft's direct-to-R2 object and stopped before accepting it, and no redelivery of the
   * notification took it over within another lease. The D1 record decides, as for other uploads: holding the
   * original's facts, the move was complete and the image is queued; otherwise the image fails, saying so, and
   * what the move may have written is removed.
   */
  private async recoverIncoming(incoming: IncomingObject, now: number): Promise<void> {
    const deadline = incoming.leaseUntil + INCOMING_LEASE_MS;
    if (now < deadline) {
      await this.ctx.storage.setAlarm(deadline);
      return;
    }
    const { imageId, life, originalKey } = this.state;
    const incomingObject = incomingKey({ storageId: await imageStorageId(imageId), life });
    // The incoming object first: dying after it, the alarm (still set) comes back to the same decision.
    await this.env.BUCKET.delete(incomingObject);
    const row = await findImageLife(database(primary(this.env.DB)), imageId, life);
    if (row?.format && originalKey) {
      await this.enqueue({ imageId, originalKey });
      return;
    }
    if (originalKey) await this.env.BUCKET.delete(originalKey);
    await this.transition(
      { status: "failed", error: "the uploaded file was not taken into storage: its processing stopped before it finished; upload it again", upload: { ...this.state.upload!, incoming: undefined } },
      null,
    );
  }

  /** Sends the terminal status's event; if the queue refuses, the alarm already set tries again. */
  private async sendPendingEvent(): Promise<void> {
    if (await emitImageEvent(this.env.EVENTS, this.state)) await this.save({ eventPending: undefined }, null);
    else await this.ctx.storage.setAlarm(Date.now() + EVENT_RETRY_MS);
  }

  private refuseRender(life: string): RenderResponse | undefined {
    const s = this.state;
    if (s.status === "deleted" || s.status === "none" || s.status === "draft") {
      return { ok: false, status: 404, code: ErrorCode.notFound, message: `image ${JSON.stringify(s.imageId)} not found`, stale: true };
    }
    if (life !== s.life) return { ok: false, status: 404, code: ErrorCode.notFound, message: "the image was uploaded again", stale: true };
    return undefined;
  }

  /** One call to the processor at a time; each takes what waits, until nothing does. */
  private async renderWaiting(): Promise<void> {
    this.rendering = true;
    try {
      while (this.waiting.length > 0) {
        const batch = this.takeBatch();
        await this.renderBatch(batch).catch((error) => answerAll(batch, renderFailed(error)));
      }
    } finally {
      this.rendering = false;
    }
  }

  /**
   * The next call's outputs: those waiting for the first one's life, in the order asked, up to RENDER_BATCH_OUTPUTS
   * and RENDER_BATCH_PIXELS of output in all (the first always goes). Each output's answer waits for the whole
   * call, so large outputs, whose encoding costs more than the shared decode saves, go few at a time. Requests
   * whose life has ended are answered now.
   */
  private takeBatch(): WaitingRender[] {
    const batch: WaitingRender[] = [];
    const later: WaitingRender[] = [];
    let pixels = 0;
    for (const entry of this.waiting.splice(0)) {
      const gone = this.refuseRender(entry.request.source.life);
      if (gone) {
        entry.settled();
        entry.answer(gone);
        continue;
      }
      const size = outputPixelsOf(entry.request);
      const fits = batch.length === 0 || (batch.length < RENDER_BATCH_OUTPUTS && pixels + size <= RENDER_BATCH_PIXELS && batchesWith(batch[0].request, entry.request));
      if (fits) {
        batch.push(entry);
        pixels += size;
      } else {
        later.push(entry);
      }
    }
    this.waiting.push(...later);
    return batch;
  }

  /** Renders a batch, answers each of its requests, then stores what was rendered (in the background, in one D1 batch). */
  private async renderBatch(batch: WaitingRender[]): Promise<void> {
    if (batch.length === 0) return;
    const source = batch[0].request.source;
    let results;
    try {
      results = await this.env.RENDERER.render({ source, outputs: batch.map(({ request: { source: _, ...output } }) => output) });
    } catch (error) {
      answerAll(batch, renderFailed(error));
      return;
    }
    const answers: RenderResponse[] = await Promise.all(
      results.map(async (result) => ("error" in result ? { ok: false as const, ...result.error } : { ok: true as const, etag: await renditionEtag(result.bytes), ...result })),
    );
    const rendered = batch.flatMap((entry, i) => {
      const answer = answers[i];
      return answer.ok ? [{ entry, stored: { request: entry.request, output: answer, etag: answer.etag } }] : [];
    });
    // The render's stats sample, one per call to the processor (the processor writes none for an on-demand render).
    const timings = rendered[0]?.stored.output.timings;
    const sample = { trigger: "on-demand" as const, ms: renderSampleMs(timings ?? {}) };
    // The life may have ended while the processor worked: then nothing is stored, and the callers are told so.
    const gone = this.refuseRender(source.life);
    if (gone) {
      answerAll(batch, gone);
      if (rendered.length > 0) recordRenderSample(database(primary(this.env.DB)), sample.trigger, sample.ms).catch(() => {});
      return;
    }
    batch.forEach((entry, i) => {
      if (!answers[i].ok) entry.settled();
      entry.answer(answers[i]);
    });
    if (rendered.length === 0) return;
    const image = { imageId: source.imageId, storageId: source.storageId, life: source.life };
    // The answers go first: the store waits for the next turn of the event loop, so the bytes are on their way
    // to the clients before R2 and D1 are written (locally all of it shares one thread with delivery).
    const commit = nextTurn()
      .then(() => storeRenditions(this.env, image, rendered.map((r) => r.stored), sample))
      .catch((error) => log({ event: "error", requestId: batch[0].request.requestId, imageId: image.imageId, message: `storing a rendition failed: ${describeError(error)}` }))
      .finally(() => {
        this.commits.delete(commit);
        rendered.forEach((r) => r.entry.settled());
      });
    this.commits.add(commit);
  }

  /** Server-Sent Events of every state change; the stream ends at a terminal state. */
  async fetch(request: Request): Promise<Response> {
    if (new URL(request.url).pathname !== "/events") return new Response("not found", { status: 404 });
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const writer = writable.getWriter();
    const first = this.writeEvent(writer, this.event());
    if (this.isTerminal()) {
      first.then(() => writer.close()).catch(() => {});
    } else {
      this.subscribers.add(writer);
      writer.closed.catch(() => this.subscribers.delete(writer));
      this.keepAlive();
    }
    return new Response(readable, {
      headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", connection: "keep-alive" },
    });
  }

  /** A new image, or an id whose image was deleted: it may start a new life. */
  /** A new image, or an id whose image was deleted, with no upload in flight: it may start a new life. */
  private isUnused(): boolean {
    return (this.state.status === "none" || this.state.status === "deleted") && !this.state.reservation;
  }

  /** What a new life starts from; the generation keeps counting so jobs of a previous life stay stale. */
  private freshLife(): Partial<CoordinatorState> {
    return {
      attempts: 0,
      requeues: 0,
      error: undefined,
      lastError: undefined,
      upload: undefined,
      leaseUntil: undefined,
      queuedUntil: undefined,
      reservation: undefined,
    };
  }

  private async enqueue(source: Partial<CoordinatorState> & { imageId: string; originalKey: string }): Promise<void> {
    const generation = this.state.generation + 1;
    const queuedUntil = Date.now() + this.claimTimeoutMs(source.requeues ?? this.state.requeues);
    // State first, then the message: if the send fails, the alarm set here enqueues again.
    await this.transition({ ...source, status: "queued", generation, queuedUntil, leaseUntil: undefined }, queuedUntil, source.requestId);
    const job: ProcessJob = { type: "process", imageId: source.imageId, life: this.state.life, originalKey: source.originalKey, generation, requestId: this.state.requestId };
    await this.env.JOBS.send(job);
  }

  /**
   * How long a queued job may wait for a processor before it is enqueued again: a lost message (a crashed local
   * queue, a failed send) is re-sent within QUEUE_CLAIM_SECONDS; a long backlog doubles the wait each time, so
   * waiting jobs do not flood the queue with copies.
   */
  private claimTimeoutMs(requeues: number): number {
    return Math.min(this.config.queueClaimSeconds * 1000 * 2 ** requeues, 30 * 60 * 1000);
  }

  private isTerminal(): boolean {
    return TERMINAL.includes(this.state.status as ImageStatus);
  }

  /**
   * Persists the state, and the alarm that goes with it (`null` clears it), in one atomic write: both are issued
   * before anything is awaited, so the Durable Object commits them together. A crash can therefore never leave a
   * non-terminal state without the alarm that moves it on.
   */
  private async save(patch: Partial<CoordinatorState>, alarm?: number | null): Promise<void> {
    this.state = { ...this.state, ...patch, updatedAt: nowIso() };
    const writes: Promise<void>[] = [this.ctx.storage.put("state", this.state)];
    if (alarm === null) writes.push(this.ctx.storage.deleteAlarm());
    else if (alarm !== undefined) writes.push(this.ctx.storage.setAlarm(alarm));
    await Promise.all(writes);
  }

  /** Persists a status change (with its alarm), mirrors it into D1, emits terminal statuses as events and tells subscribers. */
  private async transition(patch: Partial<CoordinatorState> & { status: ImageStatus }, alarm?: number | null, requestId?: string): Promise<void> {
    const from = this.state.status;
    // A terminal status is stored with its event still owed and an alarm to send it, in the same atomic write, so
    // a crash before the send delays the event rather than losing it.
    const terminal = TERMINAL.includes(patch.status);
    if (terminal && this.state.imageId) await this.save({ ...patch, eventPending: true }, Date.now() + EVENT_RETRY_MS);
    else await this.save(patch, alarm);
    if (patch.status !== "deleted" && this.state.imageId) {
      // Only this life's record: a late transition of an old life must not touch the id's next upload.
      await updateImageLife(database(primary(this.env.DB)), this.state.imageId, this.state.life, {
        status: patch.status,
        error: this.state.status === "failed" ? (this.state.error ?? null) : null,
        updatedAt: this.state.updatedAt,
      });
    }
    log({
      event: "transition",
      requestId: carriedRequestId(requestId) ?? this.state.requestId,
      imageId: this.state.imageId,
      from,
      to: this.state.status,
      attempts: this.state.attempts,
      generation: this.state.generation,
      message: this.state.status === "failed" ? this.state.error : patch.lastError,
    });
    if (this.state.eventPending) await this.sendPendingEvent();
    const event = this.event();
    for (const writer of this.subscribers) {
      const sent = this.writeEvent(writer, event);
      if (terminal) sent.then(() => writer.close()).catch(() => {});
    }
    if (terminal) this.subscribers.clear();
  }

  /** A comment line every 15 s keeps idle proxies from closing streams that wait on a long job. */
  private keepAlive(): void {
    if (this.heartbeat) return;
    this.heartbeat = setInterval(() => {
      if (this.subscribers.size === 0) {
        clearInterval(this.heartbeat);
        this.heartbeat = undefined;
        return;
      }
      const ping = new TextEncoder().encode(": keep-alive\n\n");
      for (const writer of this.subscribers) writer.write(ping).catch(() => this.subscribers.delete(writer));
    }, 15_000);
  }

  private event(): StatusEvent {
    const s = this.state;
    return { id: s.imageId, status: s.status, error: s.status === "failed" ? s.error : undefined, attempts: s.attempts, updatedAt: s.updatedAt };
  }

  private writeEvent(writer: WritableStreamDefaultWriter<Uint8Array>, event: StatusEvent): Promise<void> {
    const text = `event: status\nid: ${event.updatedAt}\ndata: ${JSON.stringify(event)}\n\n`;
    return writer.write(new TextEncoder().encode(text)).catch(() => {
      this.subscribers.delete(writer);
    });
  }
}

/** An on-demand render asked for and not answered yet. */
interface WaitingRender {
  request: RenderRequest;
  answer: (response: RenderResponse) => void;
  /** Runs once nothing more will be stored for the request (its output may then be asked for anew). */
  settled: () => void;
}

/** Answers every request of a batch alike, nothing of it to be stored. */
function answerAll(batch: WaitingRender[], response: RenderResponse): void {
  for (const entry of batch) {
    entry.settled();
    entry.answer(response);
  }
}

function renderFailed(error: unknown): RenderResponse {
  return { ok: false, status: 503, code: ErrorCode.unavailable, message: `rendering failed, try again: ${describeError(error)}` };
}

/** Distinct outputs of one image that may wait for the processor; past that a request is refused with 503 at once. */
const RENDER_QUEUE_LIMIT = 64;
/** At most this many outputs go to the processor in one call. */
const RENDER_BATCH_OUTPUTS = 16;
/** And at most this many output pixels in all (4 MP: twelve 640×480 renditions, or one 2560×1440 alone). */
const RENDER_BATCH_PIXELS = 4_000_000;

function outputPixelsOf(request: RenderRequest): number {
  const { width, height } = outputSizeOf(request.source, request.transform);
  return width * height;
}

/**
 * Whether two outputs may share a call: of the same stored original (a request may carry an earlier life's, if its
 * edge state was behind), and both drawing layers or neither (a call that draws stays in the processor's isolate
 * locally, where the render process takes no layers: the others should not stay with it).
 */
function batchesWith(a: RenderRequest, b: RenderRequest): boolean {
  return a.source.life === b.source.life && a.source.storageId === b.source.storageId && drawsLayers([a]) === drawsLayers([b]);
}
