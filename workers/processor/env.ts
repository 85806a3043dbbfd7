import type { CoordinatorNamespace } from "../shared/bindings.ts";
import type { ConfigEnv } from "../shared/config.ts";
import type { EventQueue } from "../shared/events.ts";
import type { EngineProcessEnv } from "./pipeline/engine-process.ts";
import type { JobMessage } from "../shared/messages.ts";
import type { MetricsEnv } from "../shared/metrics.ts";

/** Bindings of the processor Worker (see workers/processor/wrangler.toml). */
export interface ProcessorEnv extends ConfigEnv, EngineProcessEnv, MetricsEnv {
  DB: D1Database;
  BUCKET: R2Bucket;
  /** The gateway's ImageCoordinator, bound across Workers with script_name. */
  COORDINATOR: CoordinatorNamespace;
  /** The image-events queue: a fanned-out event goes back onto it as one delivery per subscription. */
  EVENTS: EventQueue;
  /** The image-jobs queue: a variant backfill enqueues its next batch on it. */
  JOBS: Queue<JobMessage>;
}
