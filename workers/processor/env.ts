import type { ConfigEnv } from "../shared/config.ts";
import type { ImageCoordinator } from "../gateway/coordinator.ts";

/** Bindings of the processor Worker (see workers/processor/wrangler.toml). */
export interface ProcessorEnv extends ConfigEnv {
  DB: D1Database;
  BUCKET: R2Bucket;
  /** The gateway's ImageCoordinator class, bound across Workers with script_name. */
  COORDINATOR: DurableObjectNamespace<ImageCoordinator>;
}
