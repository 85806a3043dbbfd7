// Workers Analytics Engine data points (the METRICS dataset binding in both Workers). Each kind has one fixed
// layout, documented in docs/DESIGN.md ("Metrics"): index1 is the kind, so queries filter on it and Analytics
// Engine samples each kind on its own; blobs are labels, doubles are measurements. writeDataPoint is
// non-blocking and never fails the caller: a metric is never worth an error.
import type { RenderTrigger } from "./log.ts";

export interface MetricsEnv {
  /** Absent in a deployment (or test) without the dataset: nothing is written. */
  METRICS?: AnalyticsEngineDataset;
}

/** The dataset's name in both wrangler.toml files, and in the SQL of the alert rules. */
export const METRICS_DATASET = "image_platform";

export type MetricKind = "delivery" | "render" | "job" | "upload";

export interface DeliveryPoint {
  /** x-image-source: HIT (location cache), STORED (R2), RENDERED (on demand), or ERROR. */
  cache: "HIT" | "STORED" | "RENDERED" | "ERROR";
  format: string;
  status: number;
  bytes: number;
  ms: number;
}

export interface RenderPoint {
  trigger: RenderTrigger;
  decoder: string;
  /** "ok", or the failure's kind (limit, corrupt, unsupported, error). */
  outcome: string;
  ms: number;
  scale: number;
  peakMb: number;
  outputs: number;
}

export interface JobPoint {
  /** The message's type on image-jobs: process or variant.backfill. */
  type: string;
  /** ready, skipped, failed, retry, dead_letter (a backfill batch: complete, continued, cancelled…). */
  outcome: string;
  attempts: number;
  queueWaitMs: number;
  ms: number;
}

export interface UploadPoint {
  /** api (file), url (fetched source), direct (one-time URL). */
  via: "api" | "url" | "direct";
  format: string;
  /** accepted, or the refusal's Cloudflare error code. */
  outcome: string;
  status: number;
  bytes: number;
  ms: number;
}

function write(env: MetricsEnv, kind: MetricKind, blobs: string[], doubles: number[]): void {
  try {
    env.METRICS?.writeDataPoint({ indexes: [kind], blobs, doubles });
  } catch {
    // Analytics Engine refused the point (a limit, an outage): the work it measures is unaffected.
  }
}

/** blob1 cache, blob2 format, blob3 status · double1 bytes, double2 ms, double3 status. */
export const recordDelivery = (env: MetricsEnv, p: DeliveryPoint) => write(env, "delivery", [p.cache, p.format, String(p.status)], [p.bytes, p.ms, p.status]);

/** blob1 trigger, blob2 decoder, blob3 outcome · double1 ms, double2 scale, double3 peak MB, double4 outputs. */
export const recordRender = (env: MetricsEnv, p: RenderPoint) => write(env, "render", [p.trigger, p.decoder, p.outcome], [p.ms, p.scale, p.peakMb, p.outputs]);

/** blob1 type, blob2 outcome · double1 attempts, double2 queue wait ms, double3 ms. */
export const recordJob = (env: MetricsEnv, p: JobPoint) => write(env, "job", [p.type, p.outcome], [p.attempts, p.queueWaitMs, p.ms]);

/** blob1 via, blob2 format, blob3 outcome · double1 bytes, double2 ms, double3 status. */
export const recordUpload = (env: MetricsEnv, p: UploadPoint) => write(env, "upload", [p.via, p.format, p.outcome], [p.bytes, p.ms, p.status]);
