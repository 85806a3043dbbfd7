import { Hono } from "hono";
import type { Config } from "../shared/config.ts";
import type { Db } from "../shared/db.ts";
import type { LogLine } from "../shared/log.ts";
import type { UploadPoint } from "../shared/metrics.ts";
import type { Principal } from "./api-tokens.ts";
import type { GatewayEnv } from "./env.ts";

/** Hono context of every gateway route: bindings plus the config parsed once per request. */
export interface GatewayContext {
  Bindings: GatewayEnv;
  Variables: {
    config: Config;
    /** The management API's D1 session for this request (see workers/gateway/index.ts). */
    db: Db;
    /** Who made a management API request (set by `requireApiToken`; absent on delivery and upload URLs). */
    principal: Principal;
    /** Follows this request into queue messages, RPC calls and log lines (workers/shared/log.ts). */
    requestId: string;
    /** Fields a route adds to the request's log line (the image id, timings by phase); see requestLog.ts. */
    logFields: Partial<LogLine>;
    /** An upload's facts as far as the route got, for its data point (written with the answer). */
    upload?: Pick<UploadPoint, "via" | "format" | "bytes">;
  };
}

export const router = () => new Hono<GatewayContext>();
