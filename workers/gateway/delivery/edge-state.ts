import type { ImageFormat } from "../../../wasm/src/probe.ts";
import type { Orientation } from "../../../wasm/src/raster.ts";
import type { Config } from "../../shared/config.ts";
import { database, nearest, primary } from "../../shared/db.ts";
import { ApiError, ErrorCode, describeError } from "../../shared/errors.ts";
import { findImageForDelivery } from "../../shared/image-records.ts";
import type { ImageRow, ImageStatus } from "../../shared/schema.ts";
import { imageStorageId } from "../../shared/storage.ts";
import type { Transform } from "../../shared/transform.ts";
import type { GatewayEnv } from "../env.ts";
import { listSigningKeys, listVariantTransforms } from "../account.ts";
import { renditionCache, renditionCacheKey, renditionKeyPrefix } from "./cache.ts";
import { forgetRenditionsOf } from "./memory-tier.ts";

/**
 * Edge state: what a delivery must decide before it can answer from the cache (does the image exist, which life,
 * is it public, its size and alpha for format negotiation; the account's variants and signing keys), held at the
 * edge so that a cache hit makes no D1 query and no Durable Object call.
 *
 * Two tiers, both bounded in time:
 * - the location's Cache API holds each document with the time it was read from D1; it is trusted for
 *   EDGE_STATE_TTL_SECONDS (default 30 s), then read again. That TTL is the invalidation bound for every location
 *   other than the one that handled a change, which deletes its own copy before the API call answers. A copy
 *   past its TTL is kept (24 h) only to answer while D1 is unreachable.
 * - each isolate keeps what it read for at most MEMO_MS, so a hot image costs one cache lookup (its rendition)
 *   per request instead of three. An isolate that did not handle a change may use its copy for that long.
 */
const MEMO_MS = 1000;
const MEMO_LIMIT = 10_000;
const STALE_KEEP_SECONDS = 24 * 3600;

/** The part of an execution context edge state needs (Hono's and the runtime's types differ). */
type WaitUntil = { waitUntil(promise: Promise<unknown>): void };

export interface ImageEdgeState {
  id: string;
  life: string;
  storageId: string;
  status: ImageStatus;
  error: string | null;
  signed: boolean;
  format: ImageFormat;
  width: number;
  height: number;
  orientation: Orientation;
  hasAlpha: boolean;
  /** More than one frame, as recorded at upload; where that is unknown (null: stored before it was recorded, or a GIF probed from its first bytes only), any GIF counts as animated. */
  animated: boolean;
  /** The original's size in bytes (format=json's original.file_size); 0 when not recorded. */
  bytes: number;
}

export interface VariantEdgeState {
  transform: Transform;
  fingerprint: string;
  neverRequireSignedUrls: boolean;
}

export interface AccountEdgeState {
  variants: Record<string, VariantEdgeState>;
  keys: string[];
}

// Isolate memory: copies of edge state that live at most MEMO_MS (see above), like the compiled WASM a cache of
// the isolate, never a source of truth.
const memo = new Map<string, { value: unknown; until: number }>();

const ACCOUNT_DOC = "https://edge-state.internal/account";
const imageDoc = (id: string) => `https://edge-state.internal/images/${encodeURIComponent(id)}`;
let documents: Promise<Cache> | undefined;
const documentCache = () => (documents ??= caches.open("edge-state"));

/** The edge state of an image, or undefined when it does not exist. Drafts are answered but never kept. */
export async function imageEdgeState(env: GatewayEnv, config: Config, ctx: WaitUntil, id: string): Promise<ImageEdgeState | undefined> {
  return edgeDocument(config, ctx, imageDoc(id), async () => {
    const row = await findImageForDelivery(env.DB, id);
    return row ? toEdgeState(row, await imageStorageId(row.id)) : undefined;
  }, (state) => state.status !== "draft");
}

/**
 * The account's variants and signing keys, from: `edge`, the isolate's copy or the location's; `location`, the
 * location's (signed URLs: a revoked key stops at once where it was revoked); `primary`, D1's primary, replacing
 * the location's copy (a variant a lagging replica did not know yet).
 */
export async function accountEdgeState(
  env: GatewayEnv,
  config: Config,
  ctx: WaitUntil,
  from: "edge" | "location" | "primary" = "edge",
): Promise<AccountEdgeState> {
  if (from !== "edge") memo.delete(ACCOUNT_DOC);
  const state = await edgeDocument(config, ctx, ACCOUNT_DOC, async () => {
    const db = database(from === "primary" ? primary(env.DB) : nearest(env.DB));
    const [variants, keys] = await Promise.all([listVariantTransforms(db), listSigningKeys(env.DB)]);
    return { variants, keys: keys.map((k) => k.value) };
  }, () => true, from === "primary");
  return state!;
}

async function edgeDocument<T>(
  config: Config,
  ctx: WaitUntil,
  url: string,
  load: () => Promise<T | undefined>,
  keep: (value: T) => boolean,
  reload = false,
): Promise<T | undefined> {
  const now = Date.now();
  const memoized = memo.get(url);
  if (memoized && memoized.until > now && !reload) return memoized.value as T;

  const ttlMs = config.delivery.edgeStateTtlSeconds * 1000;
  const cache = await documentCache();
  const cached = reload ? undefined : await cache.match(url);
  const fetchedAt = Number(cached?.headers.get("x-fetched-at") ?? 0);
  if (cached && now - fetchedAt < ttlMs) {
    const value = (await cached.json()) as T;
    remember(url, value, Math.min(now + MEMO_MS, fetchedAt + ttlMs));
    return value;
  }

  let value: T | undefined;
  try {
    value = await load();
  } catch (error) {
    // D1 unreachable: a location keeps answering from its last copy rather than failing every image on the page.
    if (cached) {
      console.error(`edge state ${url}: D1 unreachable, serving the copy read ${Math.round((now - fetchedAt) / 1000)} s ago:`, describeError(error));
      return (await cached.json()) as T;
    }
    throw new ApiError(503, ErrorCode.unavailable, "image records are unreachable; try again shortly");
  }
  if (value !== undefined && keep(value)) {
    remember(url, value, now + MEMO_MS);
    const headers = { "content-type": "application/json", "cache-control": `max-age=${STALE_KEEP_SECONDS}`, "x-fetched-at": String(now) };
    ctx.waitUntil(cache.put(url, new Response(JSON.stringify(value), { headers })).catch(() => {}));
  } else if (cached) {
    ctx.waitUntil(cache.delete(url).catch(() => false));
  }
  return value;
}

function remember(url: string, value: unknown, until: number): void {
  if (memo.size >= MEMO_LIMIT) {
    // Oldest first (Map keeps insertion order); entries live a second, so this only trims a burst.
    for (const key of [...memo.keys()].slice(0, MEMO_LIMIT / 10)) memo.delete(key);
  }
  memo.delete(url);
  memo.set(url, { value, until });
}

function toEdgeState(row: ImageRow, storageId: string): ImageEdgeState {
  return {
    id: row.id,
    life: row.life,
    storageId,
    status: row.status,
    error: row.error,
    signed: row.requireSignedUrls,
    format: (row.format ?? "jpeg") as ImageFormat,
    width: row.width ?? 1,
    height: row.height ?? 1,
    orientation: (row.orientation ?? 1) as Orientation,
    hasAlpha: row.hasAlpha ?? false,
    animated: row.animated ?? row.format === "gif",
    bytes: row.bytes ?? 0,
  };
}

/**
 * A change to an image (delete, access control, a new upload of its id): this location forgets its edge state and
 * its cached renditions before the API call answers; every other location within EDGE_STATE_TTL_SECONDS.
 * Call it with the rendition index read before the records were removed.
 */
export async function forgetImage(id: string, storageId: string, cachedRenditions: { life: string; fingerprint: string; format: string }[]): Promise<void> {
  memo.delete(imageDoc(id));
  forgetRenditionsOf(renditionKeyPrefix(storageId));
  const [docs, renditions] = await Promise.all([documentCache(), renditionCache()]);
  await Promise.all([
    docs.delete(imageDoc(id)),
    ...cachedRenditions.map((r) => renditions.delete(renditionCacheKey({ storageId, life: r.life }, r.fingerprint, r.format))),
  ]);
}

/** A change to the account's variants or signing keys: this location at once, every other within the TTL. */
export async function forgetAccount(): Promise<void> {
  memo.delete(ACCOUNT_DOC);
  await (await documentCache()).delete(ACCOUNT_DOC);
}
