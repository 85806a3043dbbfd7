import { asc, count, eq } from "drizzle-orm";
import { parseBoolean } from "../../shared/config.ts";
import { nowIso } from "../../shared/db.ts";
import { ApiError, ErrorCode, badRequest, envelope, notFound } from "../../shared/errors.ts";
import { emitEvent, variantEvent } from "../../shared/events.ts";
import { variants, type VariantRow } from "../../shared/schema.ts";
import { parseVariantOptions } from "../../shared/transform.ts";
import { router } from "../app.ts";
import { invalidateAccount } from "../invalidate.ts";
import { presentVariant } from "../presenters.ts";
import { readJsonObject } from "../request-body.ts";
import type { Context } from "hono";
import type { GatewayContext } from "../app.ts";

const MAX_VARIANTS = 100;

/**
 * `/accounts/:account_id/images/v1/variants`: named variants. A changed definition renders to a new fingerprint,
 * so deliveries after the change get the new output at once; every named variant is produced for new uploads.
 */
export const variantRoutes = router();

variantRoutes.get("/", async (c) => {
  const rows = await c.get("db").select().from(variants).orderBy(asc(variants.id));
  return c.json(envelope({ variants: Object.fromEntries(rows.map((r) => [r.id, presentVariant(r)])) }));
});

variantRoutes.post("/", async (c) => {
  const body = await readJsonObject(c.req.raw, c.get("config"));
  const id = parseVariantId(body.id);
  const options = parseVariantOptions(body.options);
  const db = c.get("db");
  const [{ total }] = await db.select({ total: count() }).from(variants);
  if (total >= MAX_VARIANTS) throw badRequest(`an account can have at most ${MAX_VARIANTS} variants`);
  const inserted = await db
    .insert(variants)
    .values({ id, ...options, neverRequireSignedUrls: parseBoolean(body.neverRequireSignedURLs, "neverRequireSignedURLs") ?? false, updatedAt: nowIso() })
    .onConflictDoNothing()
    .returning();
  if (inserted.length === 0) throw new ApiError(409, ErrorCode.conflict, `a variant named ${JSON.stringify(id)} already exists`);
  await invalidateAccount(c);
  await emitEvent(c.env.EVENTS, variantEvent(id, "created", inserted[0].updatedAt));
  return c.json(envelope({ variant: presentVariant(inserted[0]) }));
});

variantRoutes.get("/:variant_id", async (c) => c.json(envelope({ variant: presentVariant(await findVariant(c)) })));

variantRoutes.patch("/:variant_id", async (c) => {
  const existing = await findVariant(c);
  const body = await readJsonObject(c.req.raw, c.get("config"));
  const options = parseVariantOptions(body.options, presentVariant(existing).options);
  const never = parseBoolean(body.neverRequireSignedURLs, "neverRequireSignedURLs") ?? existing.neverRequireSignedUrls;
  const [updated] = await c.get("db")
    .update(variants)
    .set({ ...options, neverRequireSignedUrls: never, updatedAt: nowIso() })
    .where(eq(variants.id, existing.id))
    .returning();
  await invalidateAccount(c);
  await emitEvent(c.env.EVENTS, variantEvent(existing.id, "updated", updated.updatedAt));
  return c.json(envelope({ variant: presentVariant(updated) }));
});

variantRoutes.delete("/:variant_id", async (c) => {
  const existing = await findVariant(c);
  await c.get("db").delete(variants).where(eq(variants.id, existing.id));
  await invalidateAccount(c);
  await emitEvent(c.env.EVENTS, variantEvent(existing.id, "deleted", nowIso()));
  return c.json(envelope({}));
});

async function findVariant(c: Context<GatewayContext>): Promise<VariantRow> {
  const id = c.req.param("variant_id") ?? "";
  const [row] = await c.get("db").select().from(variants).where(eq(variants.id, id));
  if (!row) throw notFound(`variant ${JSON.stringify(id)} not found`);
  return row;
}

function parseVariantId(raw: unknown): string {
  if (typeof raw !== "string" || !/^[A-Za-z0-9_-]{1,99}$/.test(raw)) {
    throw badRequest(`id must be 1–99 letters, digits, _ or -, got ${JSON.stringify(raw)}`);
  }
  return raw;
}
