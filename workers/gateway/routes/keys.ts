import { asc, eq } from "drizzle-orm";
import { randomHex } from "../../shared/crypto.ts";
import { database, nowIso, type Db } from "../../shared/db.ts";
import { badRequest, envelope, notFound } from "../../shared/errors.ts";
import { signingKeys } from "../../shared/schema.ts";
import { router } from "../app.ts";

/** `/accounts/:account_id/images/v1/keys`: the HMAC keys that sign delivery URLs. A `default` key always exists. */
export const keyRoutes = router();

keyRoutes.get("/v1/keys", async (c) => c.json(envelope({ keys: await listKeys(database(c.env.DB)) })));

keyRoutes.put("/v1/keys/:name", async (c) => {
  const name = c.req.param("name");
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) throw badRequest(`key name must be 1–64 letters, digits, _ or -, got ${JSON.stringify(name)}`);
  const db = database(c.env.DB);
  // PUT rotates: a new random value replaces the old one.
  await db
    .insert(signingKeys)
    .values({ name, value: randomHex(32), createdAt: nowIso() })
    .onConflictDoUpdate({ target: signingKeys.name, set: { value: randomHex(32), createdAt: nowIso() } });
  return c.json(envelope({ keys: await listKeys(db) }));
});

keyRoutes.delete("/v1/keys/:name", async (c) => {
  const name = c.req.param("name");
  if (name === "default") throw badRequest("the default key cannot be deleted; PUT /keys/default rotates it");
  const db = database(c.env.DB);
  const deleted = await db.delete(signingKeys).where(eq(signingKeys.name, name)).returning();
  if (deleted.length === 0) throw notFound(`signing key ${JSON.stringify(name)} not found`);
  return c.json(envelope({ keys: await listKeys(db) }));
});

/** All signing keys, creating the `default` one on first use (its value is random per deployment). */
export async function listKeys(db: Db): Promise<{ name: string; value: string }[]> {
  let rows = await db.select().from(signingKeys).orderBy(asc(signingKeys.name));
  if (!rows.some((r) => r.name === "default")) {
    // First use: write once (a concurrent first use keeps whichever value landed first), then read back.
    await db.insert(signingKeys).values({ name: "default", value: randomHex(32), createdAt: nowIso() }).onConflictDoNothing();
    rows = await db.select().from(signingKeys).orderBy(asc(signingKeys.name));
  }
  return rows.map((r) => ({ name: r.name, value: r.value }));
}
