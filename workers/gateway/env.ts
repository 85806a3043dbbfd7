import type { CoordinatorNamespace, RendererApi } from "../shared/bindings.ts";
import type { ConfigEnv } from "../shared/config.ts";
import type { EventQueue } from "../shared/events.ts";
import type { JobMessage } from "../shared/messages.ts";
import type { R2EventNotification } from "../shared/r2-notifications.ts";
import type { MetricsEnv } from "../shared/metrics.ts";

/** Bindings of the gateway Worker (see wrangler.toml). */
export interface GatewayEnv extends ConfigEnv, MetricsEnv {
  DB: D1Database;
  BUCKET: R2Bucket;
  /** Image jobs and variant backfill batches (image-jobs queue). */
  JOBS: Queue<JobMessage>;
  /** Platform events (image-events queue): webhooks are delivered from it; other Workers may consume it instead. */
  EVENTS: EventQueue;
  COORDINATOR: CoordinatorNamespace;
  RENDERER: Service<RendererApi>;
  /** Uncached renders per client (Workers Rate Limiting binding). */
  RENDER_LIMITER: RateLimit;
  /**
   * The image-uploads queue, written only by the local S3 endpoint (`npm start`): in production R2's notification
   * rule sends to it, and this binding is unused.
   */
  R2_NOTIFICATIONS: Queue<R2EventNotification>;
}
