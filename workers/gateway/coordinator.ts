import { DurableObject } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { parseConfig, type Config } from "../shared/config.ts";
import { constantTimeEqual } from "../shared/crypto.ts";
import { database, nowIso } from "../shared/db.ts";
import type { ProcessJob, StatusEvent } from "../shared/messages.ts";
import type { RenderRequest, RenderResponse } from "../shared/render.ts";
import { images, type ImageStatus } from "../shared/schema.ts";
import type { GatewayEnv } from "./env.ts";
import { deleteImageRecords } from "./records.ts";

const TERMINAL: readonly ImageStatus[] = ["ready", "failed", "deleted"];
/** How long an upload that started before its URL expired may take to finish storing the file. */
const DRAFT_UPLOAD_GRACE_MS = 10 * 60 * 1000;

/** What the coordinator knows about one image. Persisted under a single storage key. */
export interface CoordinatorState {
  imageId: string;
  status: ImageStatus | "none";
  /** Increases every time a job is (re-)enqueued. */
  generation: number;
  /** Processing attempts started (claims), across all generations. */
  attempts: number;
  leaseUntil?: number;
  /** When a queued job that nobody claimed is enqueued again. */
  queuedUntil?: number;
  error?: string;
  lastError?: string;
  originalKey?: string;
  upload?: { tokenHash: string; expiresAt: number; used: boolean };
  updatedAt: string;
}

export type ClaimResult = { action: "process"; attempt: number } | { action: "skip"; reason: string };
export type UploadCheck = { ok: true } | { ok: false; reason: "unknown" | "used" | "expired" };

/**
 * One per image id. Owns the image's lifecycle `draft → queued → processing → ready | failed` (+ `deleted`),
 * makes every transition idempotent, leases processing to one consumer at a time (an alarm hands a job out again
 * when its processor dies), guards the one-time direct-upload token, mirrors status into D1 and fans state
 * changes out to Server-Sent-Event subscribers.
 */
export class ImageCoordinator extends DurableObject<GatewayEnv> {
  private state!: CoordinatorState;
  private readonly config: Config;
  private readonly subscribers = new Set<WritableStreamDefaultWriter<Uint8Array>>();
  private readonly renders = new Map<string, Promise<RenderResponse>>();
  private heartbeat: ReturnType<typeof setInterval> | undefined;

  constructor(ctx: DurableObjectState, env: GatewayEnv) {
    super(ctx, env);
    this.config = parseConfig(env, false);
    ctx.blockConcurrencyWhile(async () => {
      this.state = (await ctx.storage.get<CoordinatorState>("state")) ?? {
        imageId: "",
        status: "none",
        generation: 0,
        attempts: 0,
        updatedAt: nowIso(),
      };
    });
  }

  snapshot(): CoordinatorState {
    return this.state;
  }

  /** Registers a direct upload: the image exists as a draft until its one-time URL is used. */
  async createDraft(imageId: string, tokenHash: string, expiresAt: number): Promise<boolean> {
    if (!this.isUnused()) return false;
    await this.transition({ ...this.freshLife(), imageId, status: "draft", upload: { tokenHash, expiresAt, used: false } });
    await this.ctx.storage.setAlarm(expiresAt);
    return true;
  }

  /** Checks the one-time upload token without consuming it, so a request with a bad token is refused before its body is read. */
  async checkUploadToken(tokenHash: string): Promise<UploadCheck> {
    const upload = this.state.upload;
    if (!upload || !(await constantTimeEqual(upload.tokenHash, tokenHash))) return { ok: false, reason: "unknown" };
    if (upload.used || this.state.status !== "draft") return { ok: false, reason: "used" };
    if (Date.now() > upload.expiresAt) return { ok: false, reason: "expired" };
    return { ok: true };
  }

  /** Consumes the one-time upload token. A second use, or one after expiry, is refused. */
  async beginDirectUpload(tokenHash: string): Promise<UploadCheck> {
    const upload = this.state.upload;
    if (!upload || !(await constantTimeEqual(upload.tokenHash, tokenHash))) return { ok: false, reason: "unknown" };
    if (upload.used || this.state.status !== "draft") return { ok: false, reason: "used" };
    if (Date.now() > upload.expiresAt) return { ok: false, reason: "expired" };
    await this.save({ upload: { ...upload, used: true } });
    return { ok: true };
  }

  /** Gives the token back when storing the upload failed, so the user can try again. */
  async abortDirectUpload(): Promise<void> {
    if (this.state.status === "draft" && this.state.upload) await this.save({ upload: { ...this.state.upload, used: false } });
  }

  /** The original is durably in R2: queue the image for processing. Idempotent. */
  async accept(imageId: string, originalKey: string): Promise<CoordinatorState> {
    if (this.state.status === "draft") await this.enqueue({ imageId, originalKey });
    else if (this.isUnused()) await this.enqueue({ ...this.freshLife(), imageId, originalKey });
    return this.state;
  }

  /**
   * Renders an output on demand through the processor, coalescing concurrent requests for the same output
   * into one render: a burst of first requests for a new variant costs one decode, not one per request.
   */
  async render(request: RenderRequest): Promise<RenderResponse> {
    const key = `${request.fingerprint}.${request.format}`;
    let pending = this.renders.get(key);
    if (!pending) {
      pending = this.env.RENDERER.render(request).finally(() => this.renders.delete(key));
      this.renders.set(key, pending);
    }
    return pending;
  }

  /** A processor asks to work on the image. Only one holds the lease; duplicates and late deliveries skip. */
  async claim(generation: number): Promise<ClaimResult> {
    const s = this.state;
    if (TERMINAL.includes(s.status as ImageStatus)) return { action: "skip", reason: `image is ${s.status}` };
    if (s.status === "processing" && s.leaseUntil && s.leaseUntil > Date.now()) {
      return { action: "skip", reason: "another processor holds the lease" };
    }
    if (s.status !== "queued" && s.status !== "processing") return { action: "skip", reason: `image is ${s.status}` };
    if (generation < s.generation - 1) return { action: "skip", reason: `stale job generation ${generation}` };
    const leaseUntil = Date.now() + this.config.leaseSeconds * 1000;
    await this.transition({ status: "processing", attempts: s.attempts + 1, leaseUntil, queuedUntil: undefined });
    await this.ctx.storage.setAlarm(leaseUntil);
    return { action: "process", attempt: s.attempts + 1 };
  }

  /** The renditions are stored. Answers the resulting status (`deleted` tells the processor to clean up). */
  async complete(): Promise<ImageStatus | "none"> {
    if (this.state.status !== "processing" && this.state.status !== "queued") return this.state.status;
    await this.transition({ status: "ready", leaseUntil: undefined, queuedUntil: undefined, error: undefined });
    await this.ctx.storage.deleteAlarm();
    return "ready";
  }

  /** Records a terminal failure with a readable reason. The original is kept. */
  async fail(reason: string): Promise<void> {
    if (TERMINAL.includes(this.state.status as ImageStatus)) return;
    await this.transition({ status: "failed", error: reason, leaseUntil: undefined, queuedUntil: undefined });
    await this.ctx.storage.deleteAlarm();
  }

  /** A transient failure: the queue will deliver the job again; the image goes back to `queued`. */
  async release(error: string): Promise<void> {
    if (this.state.status !== "processing") return;
    const queuedUntil = Date.now() + this.queuedTimeoutMs();
    await this.transition({ status: "queued", lastError: error, leaseUntil: undefined, queuedUntil });
    await this.ctx.storage.setAlarm(queuedUntil);
  }

  async markDeleted(): Promise<void> {
    if (this.state.status === "deleted") return;
    await this.transition({ status: "deleted", leaseUntil: undefined, queuedUntil: undefined, upload: undefined });
    await this.ctx.storage.deleteAlarm();
  }

  /** Lease or queue deadline passed, or a draft expired: hand the job out again, or give up with a reason. */
  async alarm(): Promise<void> {
    const s = this.state;
    const now = Date.now();
    if (s.status === "draft") {
      await this.expireDraft(now);
      return;
    }
    const overdue =
      (s.status === "processing" && (s.leaseUntil ?? 0) <= now) || (s.status === "queued" && (s.queuedUntil ?? 0) <= now);
    if (!overdue || !s.originalKey) return;
    if (s.attempts >= this.config.maxAttempts) {
      const last = s.lastError ? `; last error: ${s.lastError}` : "";
      await this.fail(`processing did not finish after ${s.attempts} attempts (lease ${this.config.leaseSeconds} s each)${last}`);
      return;
    }
    await this.enqueue({ imageId: s.imageId, originalKey: s.originalKey });
  }

  /**
   * An unused direct upload past its expiry is removed: its record and counter entry go, and the id may be used
   * again. An upload that began before expiry gets a grace period to finish storing its file.
   */
  private async expireDraft(now: number): Promise<void> {
    const upload = this.state.upload;
    if (!upload) return;
    const deadline = upload.used ? upload.expiresAt + DRAFT_UPLOAD_GRACE_MS : upload.expiresAt;
    if (now < deadline) {
      await this.ctx.storage.setAlarm(deadline);
      return;
    }
    await deleteImageRecords(database(this.env.DB), this.state.imageId);
    await this.transition({ status: "deleted", upload: undefined });
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
  private isUnused(): boolean {
    return this.state.status === "none" || this.state.status === "deleted";
  }

  /** What a new life starts from; the generation keeps counting so jobs of a previous life stay stale. */
  private freshLife(): Partial<CoordinatorState> {
    return { attempts: 0, error: undefined, lastError: undefined, upload: undefined, leaseUntil: undefined, queuedUntil: undefined };
  }

  private async enqueue(source: Partial<CoordinatorState> & { imageId: string; originalKey: string }): Promise<void> {
    const generation = this.state.generation + 1;
    const queuedUntil = Date.now() + this.queuedTimeoutMs();
    // State first, then the message: if the send fails, the alarm set here enqueues again.
    await this.transition({ ...source, status: "queued", generation, queuedUntil, leaseUntil: undefined });
    await this.ctx.storage.setAlarm(queuedUntil);
    const job: ProcessJob = { type: "process", imageId: source.imageId, originalKey: source.originalKey, generation };
    await this.env.JOBS.send(job);
  }

  private queuedTimeoutMs(): number {
    return this.config.leaseSeconds * 5 * 1000;
  }

  private isTerminal(): boolean {
    return TERMINAL.includes(this.state.status as ImageStatus);
  }

  private async save(patch: Partial<CoordinatorState>): Promise<void> {
    this.state = { ...this.state, ...patch, updatedAt: nowIso() };
    await this.ctx.storage.put("state", this.state);
  }

  /** Persists a status change, mirrors it into D1 and tells subscribers. */
  private async transition(patch: Partial<CoordinatorState> & { status: ImageStatus }): Promise<void> {
    await this.save(patch);
    if (patch.status !== "deleted" && this.state.imageId) {
      await database(this.env.DB)
        .update(images)
        .set({ status: patch.status, error: this.state.status === "failed" ? (this.state.error ?? null) : null, updatedAt: this.state.updatedAt })
        .where(eq(images.id, this.state.imageId));
    }
    const event = this.event();
    const terminal = this.isTerminal();
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
