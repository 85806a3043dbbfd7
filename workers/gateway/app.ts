import { Hono } from "hono";
import type { Config } from "../shared/config.ts";
import type { Db } from "../shared/db.ts";
import type { GatewayEnv } from "./env.ts";

/** Hono context of every gateway route: bindings plus the config parsed once per request. */
export interface GatewayContext {
  Bindings: GatewayEnv;
  Variables: {
    config: Config;
    /** The management API's D1 session for this request (see workers/gateway/index.ts). */
    db: Db;
  };
}

export const router = () => new Hono<GatewayContext>();
