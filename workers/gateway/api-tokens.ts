import { and, desc, eq, isNull, lt, or, sql } from "drizzle-orm";
import { randomBase64Url, randomHex, sha256Hex } from "../shared/crypto.ts";
import { nowIso, type Db } from "../shared/db.ts";
import { apiTokens, type ApiTokenRow } from "../shared/schema.ts";
import type { Scope } from "../shared/scopes.ts";

/**
 * Every token value starts with this, so a leaked one is recognisable (secret scanners, logs) and a bearer
 * without it is refused without a D1 read.
 */
export const TOKEN_PREFIX = "eimg_";

/** Who is calling the management API: the bootstrap `API_TOKEN` (every scope, and token management), or a scoped token. */
export type Principal = { kind: "admin" } | { kind: "token"; id: string; name: string; scopes: Scope[] };

export type TokenStatus = "active" | "expired" | "revoked";

/** A validated request for a new token. */
export interface NewToken {
  name: string;
  scopes: Scope[];
  /** ISO-8601, or null for a token that does not expire. */
  expiresAt: string | null;
}

const USE_RECORDING_INTERVAL_MS = 60_000;

/** Creates a token. Its value is returned here and stored nowhere: only its SHA-256 is kept. */
export async function issueToken(db: Db, token: NewToken): Promise<{ row: ApiTokenRow; value: string }> {
  const value = TOKEN_PREFIX + randomBase64Url(32);
  const [row] = await db
    .insert(apiTokens)
    .values({ id: randomHex(16), ...token, hash: await sha256Hex(value), createdAt: nowIso() })
    .returning();
  return { row, value };
}

/**
 * The token row whose hash matches a bearer value, whatever its status. The lookup compares hashes, not values,
 * so its timing tells a caller nothing about any stored token.
 */
export async function findTokenByValue(db: Db, value: string): Promise<ApiTokenRow | undefined> {
  if (!value.startsWith(TOKEN_PREFIX)) return undefined;
  const [row] = await db.select().from(apiTokens).where(eq(apiTokens.hash, await sha256Hex(value)));
  return row;
}

export function tokenStatus(row: ApiTokenRow, now = Date.now()): TokenStatus {
  if (row.revokedAt) return "revoked";
  if (row.expiresAt && Date.parse(row.expiresAt) <= now) return "expired";
  return "active";
}

export function listTokens(db: Db): Promise<ApiTokenRow[]> {
  return db.select().from(apiTokens).orderBy(desc(apiTokens.createdAt), desc(apiTokens.id));
}

export async function findToken(db: Db, id: string): Promise<ApiTokenRow | undefined> {
  const [row] = await db.select().from(apiTokens).where(eq(apiTokens.id, id));
  return row;
}

/** Revokes a token (again is a no-op that keeps the first revocation time); undefined when there is no such token. */
export async function revokeToken(db: Db, id: string): Promise<ApiTokenRow | undefined> {
  const [row] = await db
    .update(apiTokens)
    .set({ revokedAt: sql`coalesce(${apiTokens.revokedAt}, ${nowIso()})` })
    .where(eq(apiTokens.id, id))
    .returning();
  return row;
}

/**
 * Notes that a token was used, at most once a minute per token, so authenticating is a D1 read and not a write
 * on every request. `row` is the row just read: a recent `lastUsedAt` skips the write; the WHERE clause keeps
 * concurrent requests holding the same stale row to one write. Answers whether it wrote.
 */
export async function recordTokenUse(db: Db, row: ApiTokenRow, now = new Date()): Promise<boolean> {
  const cutoff = new Date(now.getTime() - USE_RECORDING_INTERVAL_MS).toISOString();
  if (row.lastUsedAt && row.lastUsedAt >= cutoff) return false;
  const written = await db
    .update(apiTokens)
    .set({ lastUsedAt: now.toISOString() })
    .where(and(eq(apiTokens.id, row.id), or(isNull(apiTokens.lastUsedAt), lt(apiTokens.lastUsedAt, cutoff))))
    .returning({ id: apiTokens.id });
  return written.length > 0;
}
