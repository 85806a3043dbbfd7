import { drizzle } from "drizzle-orm/d1";

export type Db = ReturnType<typeof database>;

/**
 * A drizzle handle over the D1 binding or one of its sessions, created per request. Without a schema: we use
 * the query builder only, and drizzle given one derives its relational config again on every call (a
 * millisecond of CPU per request, measured under the load harness's upload spike).
 */
export function database(d1: D1Database | D1DatabaseSession) {
  // A session has the query surface drizzle uses (prepare, batch); only exec/dump are missing.
  return drizzle(d1 as D1Database);
}

/**
 * The D1 read policy (docs/DESIGN.md, "Consistency of each read"): `primary` for writes and for reads that must
 * see the latest write (management API, recovery); `nearest` for delivery misses, which may read a replica that
 * lags, so a "not found" from it is checked again at the primary before it is believed.
 */
export const primary = (d1: D1Database) => d1.withSession("first-primary");
export const nearest = (d1: D1Database) => d1.withSession("first-unconstrained");

export const nowIso = () => new Date().toISOString();
