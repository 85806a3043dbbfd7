import type { ConfigEnv } from "../shared/config.ts";
import type { ProcessJob } from "../shared/messages.ts";
import type { ImageCoordinator } from "./coordinator.ts";
import type { RenderService } from "../processor/index.ts";

/** Bindings of the gateway Worker (see wrangler.toml). */
export interface GatewayEnv extends ConfigEnv {
  DB: D1Database;
  BUCKET: R2Bucket;
  JOBS: Queue<ProcessJob>;
  COORDINATOR: DurableObjectNamespace<ImageCoordinator>;
  RENDERER: Service<RenderService>;
}
