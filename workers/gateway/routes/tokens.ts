import { badRequest, envelope, notFound } from "../../shared/errors.ts";
import type { ApiTokenRow } from "../../shared/schema.ts";
import { SCOPES, isScope, type Scope } from "../../shared/scopes.ts";
import { findToken, issueToken, listTokens, revokeToken, tokenStatus, type NewToken, type TokenStatus } from "../api-tokens.ts";
import { router } from "../app.ts";
import { readJsonObject } from "../request-body.ts";

const MAX_NAME_LENGTH = 120;
const FIELDS = ["name", "scopes", "expires_on"];
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

/**
 * `/accounts/:account_id/tokens` (our extension): scoped API tokens, so each service gets its own credential.
 * Only the bootstrap API_TOKEN reaches these routes (auth.ts). Revoking keeps the row, so a revoked token still
 * lists, with status `revoked`.
 */
export const tokenRoutes = router();

tokenRoutes.post("/", async (c) => {
  const { row, value } = await issueToken(c.get("db"), parseNewToken(await readJsonObject(c.req.raw, c.get("config"))));
  // The only time the value leaves the platform: it is not stored.
  return c.json(envelope({ ...presentToken(row), value }));
});

tokenRoutes.get("/", async (c) => c.json(envelope((await listTokens(c.get("db"))).map(presentToken))));

tokenRoutes.get("/:token_id", async (c) => {
  const id = c.req.param("token_id");
  const row = await findToken(c.get("db"), id);
  if (!row) throw notFound(`token ${JSON.stringify(id)} not found`);
  return c.json(envelope(presentToken(row)));
});

tokenRoutes.delete("/:token_id", async (c) => {
  const id = c.req.param("token_id");
  const row = await revokeToken(c.get("db"), id);
  if (!row) throw notFound(`token ${JSON.stringify(id)} not found`);
  return c.json(envelope({ id: row.id }));
});

/** A token as the API shows it: never its value (only at creation) nor its hash. */
export interface TokenResult {
  id: string;
  name: string;
  scopes: Scope[];
  status: TokenStatus;
  created_on: string;
  expires_on: string | null;
  last_used_on: string | null;
  revoked_on: string | null;
}

function presentToken(row: ApiTokenRow): TokenResult {
  return {
    id: row.id,
    name: row.name,
    scopes: row.scopes,
    status: tokenStatus(row),
    created_on: row.createdAt,
    expires_on: row.expiresAt,
    last_used_on: row.lastUsedAt,
    revoked_on: row.revokedAt,
  };
}

function parseNewToken(body: Record<string, unknown>): NewToken {
  const unknown = Object.keys(body).filter((k) => !FIELDS.includes(k));
  if (unknown.length > 0) throw badRequest(`unknown field ${unknown.map((k) => JSON.stringify(k)).join(", ")}: a token takes ${FIELDS.join(", ")}`);
  return { name: parseName(body.name), scopes: parseScopes(body.scopes), expiresAt: parseExpiresOn(body.expires_on) };
}

function parseName(raw: unknown): string {
  const name = typeof raw === "string" ? raw.trim() : "";
  if (name.length === 0 || name.length > MAX_NAME_LENGTH || /\p{Cc}/u.test(name)) {
    throw badRequest(`name must be a string of 1–${MAX_NAME_LENGTH} printable characters, got ${JSON.stringify(raw)}`);
  }
  return name;
}

function parseScopes(raw: unknown): Scope[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    throw badRequest(`scopes must be a non-empty array of scope names (${SCOPES.join(", ")}), got ${JSON.stringify(raw)}`);
  }
  const unknown = raw.filter((s) => !isScope(s));
  if (unknown.length > 0) {
    throw badRequest(`scopes: unknown scope ${unknown.map((s) => JSON.stringify(s)).join(", ")}; allowed: ${SCOPES.join(", ")}`);
  }
  // Stored in the vocabulary's order, once each, so equal grants look equal.
  return SCOPES.filter((s) => raw.includes(s));
}

function parseExpiresOn(raw: unknown): string | null {
  if (raw === undefined || raw === null) return null;
  const at = typeof raw === "string" && RFC3339.test(raw) ? Date.parse(raw) : NaN;
  if (Number.isNaN(at)) throw badRequest(`expires_on must be an RFC 3339 date-time such as 2030-01-01T00:00:00Z, got ${JSON.stringify(raw)}`);
  if (at <= Date.now()) throw badRequest(`expires_on must be in the future, got ${JSON.stringify(raw)}`);
  return new Date(at).toISOString();
}
