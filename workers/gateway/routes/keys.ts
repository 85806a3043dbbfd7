import { eq } from "drizzle-orm";
import { randomHex } from "../../shared/crypto.ts";
import { nowIso } from "../../shared/db.ts";
import { badRequest, envelope, notFound } from "../../shared/errors.ts";
import { signingKeys } from "../../shared/schema.ts";
import { listSigningKeys } from "../account.ts";
import { router } from "../app.ts";
import { invalidateAccount } from "../invalidate.ts";

/** `/accounts/:account_id/images/v1/keys`: the HMAC keys that sign delivery URLs. A `default` key always exists. */
export const keyRoutes = router();

keyRoutes.get("/", async (c) => c.json(envelope({ keys: await listSigningKeys(c.env.DB) })));

keyRoutes.put("/:name", async (c) => {
  const name = c.req.param("name");
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) throw badRequest(`key name must be 1–64 letters, digits, _ or -, got ${JSON.stringify(name)}`);
  // PUT rotates: a new random value replaces the old one, and URLs signed with the old one stop working.
  await c
    .get("db")
    .insert(signingKeys)
    .values({ name, value: randomHex(32), createdAt: nowIso() })
    .onConflictDoUpdate({ target: signingKeys.name, set: { value: randomHex(32), createdAt: nowIso() } });
  await invalidateAccount(c);
  return c.json(envelope({ keys: await listSigningKeys(c.env.DB) }));
});

keyRoutes.delete("/:name", async (c) => {
  const name = c.req.param("name");
  if (name === "default") throw badRequest("the default key cannot be deleted; PUT /keys/default rotates it");
  const deleted = await c.get("db").delete(signingKeys).where(eq(signingKeys.name, name)).returning();
  if (deleted.length === 0) throw notFound(`signing key ${JSON.stringify(name)} not found`);
  await invalidateAccount(c);
  return c.json(envelope({ keys: await listSigningKeys(c.env.DB) }));
});
