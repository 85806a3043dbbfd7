import { createMiddleware } from "hono/factory";
import { constantTimeEqual } from "../shared/crypto.ts";
import { database } from "../shared/db.ts";
import { ApiError, ErrorCode, describeError } from "../shared/errors.ts";
import type { Scope } from "../shared/scopes.ts";
import { findTokenByValue, recordTokenUse, tokenStatus, type Principal } from "./api-tokens.ts";
import type { GatewayContext } from "./app.ts";

type Access = Scope | "admin";

/**
 * Which scope each management route needs, by method and path under `/client/v4/accounts/:account_id`. First
 * match wins; `:param` is one segment, a trailing `*` any rest (none included); GET covers HEAD. Anything not
 * listed is for the bootstrap API_TOKEN only, so a route added without a line here fails closed.
 */
const ACCESS_RULES: [route: string, needs: Access][] = [
  ["* /tokens/*", "admin"],
  ["* /images/v1/keys/*", "keys:write"], // GET too: it reveals the signing keys' values
  ["GET /images/v1/variants/*", "images:read"],
  ["POST,PATCH,DELETE /images/v1/variants/*", "variants:write"],
  ["GET /images/v1/stats", "images:read"],
  // A subscription sends the account's events to a URL of its choice: creating or deleting one is admin-only.
  ["GET /images/v1/webhooks/*", "images:read"],
  ["* /images/v1/webhooks/*", "admin"],
  ["GET /images/v1", "images:read"],
  ["GET /images/v2", "images:read"],
  ["POST /images/v1", "images:write"],
  ["POST /images/v2/direct_upload", "images:write"],
  // Image ids may have `/`-separated subpaths: an image, its blob and its events.
  ["GET /images/v1/*", "images:read"],
  ["PATCH,DELETE /images/v1/*", "images:write"],
];

interface AccessRule {
  methods: string[] | "*";
  segments: string[];
  rest: boolean;
  needs: Access;
}

const accessRules: AccessRule[] = ACCESS_RULES.map(([route, needs]) => {
  const [methods, path] = route.split(" ");
  const segments = path.split("/").slice(1);
  const rest = segments.at(-1) === "*";
  const listed = methods.split(",").flatMap((m) => (m === "GET" ? ["GET", "HEAD"] : [m]));
  return { methods: methods === "*" ? "*" : listed, segments: rest ? segments.slice(0, -1) : segments, rest, needs };
});

/** The scope a request needs (or "admin"), from its method and its path below the account. */
export function requiredAccess(method: string, accountPath: string): Access {
  const path = accountPath.split("/").slice(1);
  const rule = accessRules.find(
    (r) =>
      (r.methods === "*" || r.methods.includes(method)) &&
      (r.rest ? path.length >= r.segments.length : path.length === r.segments.length) &&
      r.segments.every((s, i) => (s.startsWith(":") ? path[i] !== "" : s === path[i])),
  );
  return rule?.needs ?? "admin";
}

/**
 * Management API auth, before any work is done: `Authorization: Bearer <token>` resolves to a principal (the
 * bootstrap API_TOKEN, compared in constant time, else a scoped token looked up by its hash) or 401; the account
 * id in the path must be this deployment's (403); then the route's scope must be held (403 naming it). The
 * principal is left in the context as `principal`.
 */
export const requireApiToken = createMiddleware<GatewayContext>(async (c, next) => {
  const config = c.get("config");
  const header = c.req.header("authorization") ?? "";
  const bearer = /^Bearer\s+(.+)$/i.exec(header)?.[1]?.trim();
  if (!bearer) throw unauthenticated(TOKEN_REQUIRED);

  let principal: Principal;
  if (await constantTimeEqual(bearer, config.apiToken)) {
    principal = { kind: "admin" };
  } else {
    const db = database(c.env.DB);
    const row = await findTokenByValue(db, bearer);
    if (!row) throw unauthenticated(TOKEN_REQUIRED);
    const status = tokenStatus(row);
    if (status === "revoked") throw unauthenticated("this API token has been revoked");
    if (status === "expired") throw unauthenticated(`this API token expired at ${row.expiresAt}`);
    principal = { kind: "token", id: row.id, name: row.name, scopes: row.scopes };
    c.executionCtx.waitUntil(recordTokenUse(db, row).catch((e) => console.error(`recording use of token ${row.id}:`, describeError(e))));
  }

  const accountId = c.req.param("account_id");
  if (accountId !== config.accountId) {
    throw forbidden(`the token has no access to account ${JSON.stringify(accountId)}`);
  }

  if (principal.kind === "token") {
    // The middleware is mounted at /client/v4/accounts/:account_id/*: drop those four segments.
    const accountPath = "/" + c.req.path.split("/").slice(5).join("/");
    const needs = requiredAccess(c.req.method, accountPath);
    if (needs === "admin") {
      throw forbidden(`${c.req.method} ${accountPath} is only for the bootstrap API_TOKEN; scoped tokens cannot call it`);
    }
    if (!principal.scopes.includes(needs)) {
      throw forbidden(`${c.req.method} ${accountPath} needs the ${needs} scope; this token has ${principal.scopes.join(", ")}`);
    }
  }
  c.set("principal", principal);
  await next();
});

const TOKEN_REQUIRED = "a valid API token is required (Authorization: Bearer <token>)";
const unauthenticated = (reason: string) => new ApiError(401, ErrorCode.authentication, `Authentication error: ${reason}`);
const forbidden = (reason: string) => new ApiError(403, ErrorCode.authentication, `Authentication error: ${reason}`);
