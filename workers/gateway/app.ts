import { Hono } from "hono";
import type { Config } from "../shared/config.ts";
import type { Db } from "../shared/db.ts";
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
  };
}

export const router = () => new Hono<GatewayContext>();
