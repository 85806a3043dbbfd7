import { Hono } from "hono";
import type { Config } from "../shared/config.ts";
import type { GatewayEnv } from "./env.ts";

/** Hono context of every gateway route: bindings plus the config parsed once per request. */
export interface GatewayContext {
  Bindings: GatewayEnv;
  Variables: { config: Config };
}

export const router = () => new Hono<GatewayContext>();
