import type { Context } from "hono";
import type { Placeholder } from "../../wasm/src/placeholder.ts";
import type { ImageRow, VariantBackfillRow, VariantRow } from "../shared/schema.ts";
import { presentVariantOptions, type PresentedVariantOptions } from "../shared/transform.ts";
import { listVariantNames } from "./account.ts";
import type { GatewayContext } from "./app.ts";

/** The Cloudflare Images `Image` object, plus our `status`, `error` and `placeholder` extensions. */
export interface ImageResult {
  id: string;
  filename: string | null;
  uploaded: string;
  requireSignedURLs: boolean;
  variants: string[];
  meta: Record<string, unknown>;
  creator: string | null;
  status: ImageRow["status"];
  error?: string;
  draft?: true;
  /** Our extension: a base64 ThumbHash and a `#rrggbb` dominant colour, once processed (wasm/src/placeholder.ts). */
  placeholder?: Placeholder;
}

export function deliveryBase(origin: string, accountHash: string): string {
  return `${origin}/cdn-cgi/imagedelivery/${accountHash}`;
}

/** Image objects as the API answers them, with their variant URLs on this deployment's public origin. */
export async function presentImages(c: Context<GatewayContext>, rows: ImageRow[]): Promise<ImageResult[]> {
  const config = c.get("config");
  const base = deliveryBase(config.publicUrl ?? new URL(c.req.url).origin, config.accountHash);
  const names = await listVariantNames(c.get("db"));
  return rows.map((row) => presentImage(row, names, base));
}

export const presentOne = async (c: Context<GatewayContext>, row: ImageRow) => (await presentImages(c, [row]))[0];

/** An image id as it appears in a delivery URL: its `/` subpaths kept, each segment percent-encoded (`?`, `#`, `%`, …). */
export function deliveryPath(imageId: string): string {
  return imageId.split("/").map(encodeURIComponent).join("/");
}

export function presentImage(row: ImageRow, variantNames: string[], base: string): ImageResult {
  const result: ImageResult = {
    id: row.id,
    filename: row.filename,
    uploaded: row.uploaded,
    requireSignedURLs: row.requireSignedUrls,
    variants: variantNames.map((name) => `${base}/${deliveryPath(row.id)}/${name}`),
    meta: row.meta,
    creator: row.creator,
    status: row.status,
  };
  if (row.status === "failed" && row.error) result.error = row.error;
  if (row.status === "draft") result.draft = true;
  // Images processed before placeholders existed have none: the field is left out rather than invented.
  if (row.thumbhash && row.dominantColor) result.placeholder = { thumbhash: row.thumbhash, dominantColor: row.dominantColor };
  return result;
}

/** The Cloudflare Images variant object, plus our `backfill`: its latest backfill's progress, when it had one. */
export interface VariantResult {
  id: string;
  options: PresentedVariantOptions;
  neverRequireSignedURLs: boolean;
  backfill?: BackfillProgress;
}

export interface BackfillProgress {
  status: VariantBackfillRow["status"];
  /** Ready images counted when it started; once complete, the images it went through (done + failed + skipped). */
  total: number;
  done: number;
  failed: number;
  /** Images deleted or uploaded again while it rendered them. */
  skipped: number;
  startedAt: string;
  updatedAt: string;
}

/** A backfill as `GET .../variants/:id/backfill` shows it. */
export interface BackfillResult extends BackfillProgress {
  id: number;
  variant: string;
  fingerprint: string;
  finishedAt: string | null;
  /** Why it failed, or the error its current batch last met (the queue retries it). */
  error: string | null;
}

export function presentVariant(row: VariantRow, backfill?: VariantBackfillRow): VariantResult {
  return {
    id: row.id,
    options: presentVariantOptions(row),
    neverRequireSignedURLs: row.neverRequireSignedUrls,
    ...(backfill ? { backfill: presentProgress(backfill) } : {}),
  };
}

function presentProgress(row: VariantBackfillRow): BackfillProgress {
  return { status: row.status, total: row.total, done: row.done, failed: row.failed, skipped: row.skipped, startedAt: row.startedAt, updatedAt: row.updatedAt };
}

export function presentBackfill(row: VariantBackfillRow): BackfillResult {
  return { id: row.id, variant: row.variant, fingerprint: row.fingerprint, ...presentProgress(row), finishedAt: row.finishedAt, error: row.lastError };
}
