import { createMiddleware } from "hono/factory";
import { constantTimeEqual } from "../shared/crypto.ts";
import { ApiError, ErrorCode } from "../shared/errors.ts";
import type { GatewayContext } from "./app.ts";

/**
 * Management API auth: `Authorization: Bearer <API_TOKEN>`, compared in constant time, and the account id in the
 * path must be this deployment's. Both failures answer 401/404 in the Cloudflare envelope before any work is done.
 */
export const requireApiToken = createMiddleware<GatewayContext>(async (c, next) => {
  const config = c.get("config");
  const header = c.req.header("authorization") ?? "";
  const token = /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim();
  if (!token || !(await constantTimeEqual(token, config.apiToken))) {
    throw new ApiError(401, ErrorCode.authentication, "Authentication error: a valid API token is required (Authorization: Bearer <API_TOKEN>)");
  }
  const accountId = c.req.param("account_id");
  if (accountId !== config.accountId) {
    throw new ApiError(403, ErrorCode.authentication, `Authentication error: the token has no access to account ${JSON.stringify(accountId)}`);
  }
  await next();
});
