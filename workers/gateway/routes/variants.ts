import { asc, count, eq } from "drizzle-orm";
import { parseBoolean } from "../../shared/config.ts";
import { nowIso } from "../../shared/db.ts";
import { ApiError, ErrorCode, badRequest, envelope, notFound } from "../../shared/errors.ts";
import { variants, type VariantRow } from "../../shared/schema.ts";
import { parseVariantOptions } from "../../shared/transform.ts";
import { latestBackfill, latestBackfills } from "../../shared/variant-backfills.ts";
import { router } from "../app.ts";
import { invalidateAccount } from "../invalidate.ts";
import { presentBackfill, presentVariant } from "../presenters.ts";
import { announce, createVariant, deleteVariant, updateVariant } from "../variant-changes.ts";
import { readJsonObject } from "../request-body.ts";
import type { Context } from "hono";
import type { GatewayContext } from "../app.ts";

const MAX_VARIANTS = 100;

/**
 * `/accounts/:account_id/images/v1/variants`: named variants. A changed definition renders to a new fingerprint,
 * so deliveries after the change get the new output at once; every named variant is produced for new uploads,
 * and a new or changed definition is backfilled for the images already ready (its progress is in `backfill`).
 */
export const variantRoutes = router();

variantRoutes.get("/", async (c) => {
  const db = c.get("db");
  const [rows, backfills] = await Promise.all([db.select().from(variants).orderBy(asc(variants.id)), latestBackfills(db)]);
  return c.json(envelope({ variants: Object.fromEntries(rows.map((r) => [r.id, presentVariant(r, backfills.get(r.id))])) }));
});

variantRoutes.post("/", async (c) => {
  const body = await readJsonObject(c.req.raw, c.get("config"));
  const id = parseVariantId(body.id);
  const options = parseVariantOptions(body.options);
  const db = c.get("db");
  const [{ total }] = await db.select({ total: count() }).from(variants);
  if (total >= MAX_VARIANTS) throw badRequest(`an account can have at most ${MAX_VARIANTS} variants`);
  const never = parseBoolean(body.neverRequireSignedURLs, "neverRequireSignedURLs") ?? false;
  const change = await createVariant(db, { id, ...options, neverRequireSignedUrls: never, updatedAt: nowIso() });
  if (!change) throw new ApiError(409, ErrorCode.conflict, `a variant named ${JSON.stringify(id)} already exists`);
  await invalidateAccount(c);
  await announce(c, change);
  return c.json(envelope({ variant: presentVariant(change.variant!, change.backfill) }));
});

variantRoutes.get("/:variant_id", async (c) => {
  const variant = await findVariant(c);
  return c.json(envelope({ variant: presentVariant(variant, await latestBackfill(c.get("db"), variant.id)) }));
});

/** The variant's latest backfill in full (our extension). */
variantRoutes.get("/:variant_id/backfill", async (c) => {
  const variant = await findVariant(c);
  const backfill = await latestBackfill(c.get("db"), variant.id);
  if (!backfill) throw notFound(`variant ${JSON.stringify(variant.id)} has not been backfilled (it was defined before backfills existed)`);
  return c.json(envelope({ backfill: presentBackfill(backfill) }));
});

variantRoutes.patch("/:variant_id", async (c) => {
  const existing = await findVariant(c);
  const body = await readJsonObject(c.req.raw, c.get("config"));
  const options = parseVariantOptions(body.options, existing);
  const never = parseBoolean(body.neverRequireSignedURLs, "neverRequireSignedURLs") ?? existing.neverRequireSignedUrls;
  const change = await updateVariant(c.get("db"), existing, { id: existing.id, ...options, neverRequireSignedUrls: never, updatedAt: nowIso() });
  if (!change) throw notFound(`variant ${JSON.stringify(existing.id)} not found`);
  await invalidateAccount(c);
  await announce(c, change);
  return c.json(envelope({ variant: presentVariant(change.variant!, change.backfill) }));
});

variantRoutes.delete("/:variant_id", async (c) => {
  const existing = await findVariant(c);
  const change = await deleteVariant(c.get("db"), existing.id, nowIso());
  if (!change) throw notFound(`variant ${JSON.stringify(existing.id)} not found`);
  await invalidateAccount(c);
  await announce(c, change);
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
