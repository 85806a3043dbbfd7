// Structured operational logs: one JSON object per line, so `wrangler tail`, Workers Logs and any log pipeline
// can filter on fields. The vocabulary is fixed here (LogLine): a new field is added to it, never spelled ad hoc
// at a call site, so a query written against one event works against every event that has the field.
import { nextTurn } from "./timers.ts";

/** What happened. One line per API request, sampled delivery, queue job, render, backfill batch and state transition. */
export type LogEvent =
  | "api.request"
  | "delivery"
  | "job"
  | "job.dead_letter"
  | "backfill.batch"
  | "render"
  | "transition"
  | "event.delivery"
  | "cron"
  | "error"
  | "warning";

/** Time spent per phase, in milliseconds (only the phases a line's work went through). */
export interface PhaseTimings {
  /** Upload: reading the body or fetching the source URL, and the header probe. */
  probe?: number;
  /** Upload: original to R2 and the D1 record; job: renditions to R2 and D1. */
  store?: number;
  /** Upload: the coordinator accepting and queueing the job. */
  enqueue?: number;
  /** Job/render: reading the original from R2. */
  fetchOriginal?: number;
  /** Job/render: the whole engine call (decode, resize and encode of every output). */
  render?: number;
  decode?: number;
  resize?: number;
  encode?: number;
}

/** Every field a line may carry. Absent fields are omitted from the JSON. */
export interface LogLine {
  event: LogEvent;
  /** Follows one request through the API, the queue, the render and delivery (see requestIdOf). */
  requestId?: string;
  imageId?: string;
  /** Route pattern as registered (`/client/v4/accounts/:account_id/images/v1/:image_id{.+}`), never the raw path. */
  route?: string;
  method?: string;
  /** HTTP status of an answer. */
  status?: number;
  /** Wall-clock duration of the whole unit of work. */
  ms?: number;
  /** Cloudflare error code of a refused or failed request (ErrorCode). */
  code?: number;
  message?: string;
  /** Delivery: where the bytes came from (x-image-source: the location's cache, R2, a render), or ERROR. */
  cache?: "HIT" | "STORED" | "RENDERED" | "ERROR";
  format?: string;
  bytes?: number;
  /** Job/batch: how it ended. */
  outcome?: string;
  /** Queue deliveries of this message so far (1 on the first). */
  attempts?: number;
  /** From the message being sent to its consumer starting on it. */
  queueWaitMs?: number;
  phases?: PhaseTimings;
  /** Render: why it ran. */
  trigger?: RenderTrigger;
  decoder?: string;
  /** JPEG DCT decode scale denominator (1 = full size). */
  scale?: number;
  /** Measured peak memory of the render (the engine's own account). */
  peakMb?: number;
  outputs?: number;
  /** Render: the request ids of the other deliveries whose outputs it made with `requestId`'s (one decode for all). */
  batchedWith?: string[];
  /** Transition: the status before and after. */
  from?: string;
  to?: string;
  generation?: number;
  backfillId?: number;
  batch?: number;
  /** Anything else an event needs, kept small. */
  detail?: Record<string, string | number | boolean>;
}

export type RenderTrigger = "job" | "on-demand" | "backfill";

const ERROR_EVENTS: readonly LogEvent[] = ["error", "job.dead_letter"];

/** Writes one line. Errors go to console.error so the log level matches, everything else to console.log. */
export function log(line: LogLine): void {
  const text = JSON.stringify({ at: new Date().toISOString(), ...line });
  if (ERROR_EVENTS.includes(line.event) || (line.status !== undefined && line.status >= 500)) console.error(text);
  else if (line.event === "warning") console.warn(text);
  else console.log(text);
}

/** A Cloudflare Ray ID, or an id we issued: short, URL- and header-safe. Anything else a client sends is replaced. */
const REQUEST_ID = /^[0-9A-Za-z-]{8,64}$/;

/**
 * The request id of an incoming request: its `cf-ray` (so our lines join Cloudflare's own logs) where present,
 * else a fresh random id. Locally and in tests there is no Ray ID, so ids are generated.
 */
export function requestIdOf(request: Request): string {
  const ray = request.headers.get("cf-ray");
  return ray && REQUEST_ID.test(ray) ? ray : newRequestId();
}

/** An id for work no request started (a cron run, an alarm with nothing to carry on). */
export const newRequestId = (): string => [...crypto.getRandomValues(new Uint8Array(8))].map((b) => b.toString(16).padStart(2, "0")).join("");

/** Accepts a request id carried in a queue message or an RPC argument; anything malformed is dropped. */
export function carriedRequestId(value: unknown): string | undefined {
  return typeof value === "string" && REQUEST_ID.test(value) ? value : undefined;
}

/** Milliseconds since `start` (a Date.now() value), rounded to 0.1 ms. */
export const since = (start: number): number => Math.round((Date.now() - start) * 10) / 10;

/**
 * Workers freeze the clock during synchronous work and advance it on I/O (a Spectre mitigation), so a CPU-bound
 * step read back-to-back measures 0. A timer turn lets the clock catch up: call this before reading the end of a
 * step that did no I/O of its own. It costs one event-loop turn.
 */
export const clockTurn = nextTurn;

/** An unexpected error's name and the first lines of its stack, for an `error` line's detail. */
export function errorDetail(error: unknown): Record<string, string> {
  if (!(error instanceof Error)) return {};
  return { name: error.name, stack: (error.stack ?? "").split("\n").slice(0, 6).join("\n") };
}
