import type { Context } from "hono";
import { CONTENT_TYPES } from "../../../wasm/src/probe.ts";
import type { Config } from "../../shared/config.ts";
import { coordinatorOf } from "../../shared/coordinators.ts";
import { ApiError, ErrorCode, badRequest, notFound } from "../../shared/errors.ts";
import { outputSizeOf } from "../../shared/geometry.ts";
import { renditionEtag } from "../../shared/renditions.ts";
import { renditionKey } from "../../shared/storage.ts";
import { imageInfo } from "./info.ts";
import { parseFlexibleOptions, transformFingerprint, type Transform } from "../../shared/transform.ts";
import { router, type GatewayContext } from "../app.ts";
import { renditionCache, renditionCacheKey } from "./cache.ts";
import { fitsMemoryTier, keepInMemory, memoryRendition } from "./memory-tier.ts";
import { accountEdgeState, forgetImage, imageEdgeState, type AccountEdgeState, type ImageEdgeState } from "./edge-state.ts";
import { negotiateFormat } from "./negotiate.ts";
import { ServerTiming } from "./server-timing.ts";
import { respondWithBytes } from "./respond.ts";
import { serveSvgOriginal } from "./svg-original.ts";
import { verifySignedUrl } from "./signing.ts";
import { nextTurn } from "../../shared/timers.ts";

/** The Cache API copy is addressed by life and fingerprint, so its bytes never change: it may live as long as the cache keeps it. */
const CACHE_ENTRY_CONTROL = "public, max-age=31536000";
const DELIVERY_PREFIX = "/cdn-cgi/imagedelivery/";

/**
 * `GET /cdn-cgi/imagedelivery/:account_hash/:image_id/:variant`: a named variant or flexible options. The image id
 * may have `/`-separated subpaths; the last segment is the variant.
 *
 * A cache hit reads only edge state (edge-state.ts) and the location's cache: no D1, no Durable Object. A miss
 * reads the rendition from R2, and failing that renders it through the image's coordinator.
 */
export const deliveryRoutes = router();

deliveryRoutes.on(["GET", "HEAD"], "/:account_hash/*", (c) => deliver(c, true));

type Ctx = Context<GatewayContext>;

async function deliver(c: Ctx, retryStale: boolean): Promise<Response> {
  const config = c.get("config");
  const timing = new ServerTiming();
  const url = new URL(c.req.url);
  const address = parseDeliveryPath(url.pathname);
  c.get("logFields").imageId = address.imageId;
  if (address.accountHash !== config.accountHash) throw notFound("unknown account hash");

  // Flexible options are checked before any state is read: hostile option strings cost no lookup.
  const flexible = address.variant.includes("=") ? await resolveFlexible(config, address.variant) : undefined;
  const [image, account] = await Promise.all([
    imageEdgeState(c.env, config, c.executionCtx, address.imageId),
    accountEdgeState(c.env, config, c.executionCtx),
  ]);
  timing.step("edge");
  const visible = checkVisible(image, address.imageId);
  const output = flexible ?? (await resolveNamed(c, account, address.variant));
  const signed = visible.signed && !output.neverRequireSignedUrls;
  if (signed) await verifySignedUrl(url, (await accountEdgeState(c.env, config, c.executionCtx, "location")).keys);
  if (output.transform.format === "json") return answerInfo(c, visible, output, browserCacheControl(config, signed, url));
  if (output.transform.format === "svg" && visible.format === "svg") {
    return serveSvgOriginal(c.req.raw, c.env.BUCKET, visible, browserCacheControl(config, signed, url));
  }

  const format = negotiateFormat(output.transform.format, c.req.header("accept"), {
    hasAlpha: visible.hasAlpha,
    animated: output.transform.anim && visible.animated,
    fast: output.transform.compression === "fast",
    ...outputSize(visible, output.transform),
  });
  const headers = new Headers({
    "content-type": CONTENT_TYPES[format],
    "cache-control": browserCacheControl(config, signed, url),
    vary: "Accept",
    "x-content-type-options": "nosniff",
  });

  const key = renditionCacheKey(visible, output.fingerprint, format);
  const inMemory = memoryRendition(key);
  if (inMemory) {
    timing.step("memory");
    headers.set("server-timing", timing.header());
    headers.set("etag", inMemory.etag);
    headers.set("x-image-source", "HIT");
    return respondWithBytes(c.req.raw, inMemory.bytes, inMemory.bytes.length, headers);
  }
  const cache = await renditionCache();
  const cached = await cache.match(key);
  timing.step("cache");
  headers.set("server-timing", timing.header());
  if (cached?.body) {
    const etag = cached.headers.get("etag") ?? "";
    const size = Number(cached.headers.get("x-size"));
    headers.set("etag", etag);
    headers.set("x-image-source", "HIT");
    const budget = config.delivery.memoryCacheBytes;
    if (!fitsMemoryTier(size, budget) || c.req.method === "HEAD") return respondWithBytes(c.req.raw, cached.body, size, headers);
    // Served from the location's cache a second time: hot enough to keep a copy in the isolate.
    const bytes = new Uint8Array(await cached.arrayBuffer());
    keepInMemory(key, { bytes, etag }, budget);
    return respondWithBytes(c.req.raw, bytes, bytes.length, headers);
  }

  const stored = await c.env.BUCKET.get(renditionKey(visible, output.fingerprint, format, output.variant === null));
  timing.step("r2");
  headers.set("server-timing", timing.header());
  if (stored) {
    return answerAndCache(c, cache, key, stored.body, stored.size, stored.customMetadata?.etag ?? stored.httpEtag, headers, "STORED");
  }

  await limitRenders(c);
  timing.step("limit");
  const rendered = await coordinatorOf(c.env, visible.id).render({
    source: {
      imageId: visible.id,
      life: visible.life,
      storageId: visible.storageId,
      format: visible.format,
      width: visible.width,
      height: visible.height,
      orientation: visible.orientation,
      hasAlpha: visible.hasAlpha,
    },
    transform: output.transform,
    format,
    fingerprint: output.fingerprint,
    variant: output.variant,
    requestId: c.get("requestId"),
  });
  if (!rendered.ok) {
    if (rendered.stale && retryStale) {
      // This location's edge state named a life that has ended (deleted or uploaded again elsewhere): read it again.
      await forgetImage(visible.id, visible.storageId, []);
      return deliver(c, false);
    }
    throw new ApiError(rendered.status, rendered.code, rendered.message, rendered.retryAfter ? { "retry-after": String(rendered.retryAfter) } : undefined);
  }
  timing.step("render");
  timing.add("original", rendered.timings?.fetchOriginal);
  timing.add("engine", rendered.timings?.render);
  headers.set("server-timing", timing.header());
  return answerAndCache(c, cache, key, rendered.bytes, rendered.bytes.length, rendered.etag, headers, "RENDERED");
}

/** Splits `/cdn-cgi/imagedelivery/<hash>/<id…>/<variant>`; each id segment is decoded exactly once. */
function parseDeliveryPath(pathname: string): { accountHash: string; imageId: string; variant: string } {
  const segments = pathname.slice(DELIVERY_PREFIX.length).split("/");
  if (segments.length < 3 || segments.some((s) => s === "")) {
    throw notFound("delivery URLs are /cdn-cgi/imagedelivery/<account hash>/<image id>/<variant or options>");
  }
  const decode = (segment: string) => {
    try {
      return decodeURIComponent(segment);
    } catch {
      throw badRequest("the image id in the URL has a malformed percent-escape");
    }
  };
  return { accountHash: segments[0], imageId: segments.slice(1, -1).map(decode).join("/"), variant: segments.at(-1)! };
}

function checkVisible(image: ImageEdgeState | undefined, id: string): ImageEdgeState {
  if (!image || image.status === "deleted") throw notFound(`image ${JSON.stringify(id)} not found`);
  if (image.status === "draft") throw notFound(`image ${JSON.stringify(id)} has not been uploaded yet`);
  if (image.status === "failed") {
    throw new ApiError(422, ErrorCode.unprocessable, `image ${JSON.stringify(id)} could not be processed: ${image.error ?? "unknown error"}`);
  }
  return image;
}

interface ResolvedOutput {
  transform: Transform;
  fingerprint: string;
  /** The named variant, or null for flexible options. */
  variant: string | null;
  neverRequireSignedUrls: boolean;
}

// Parsed flexible option strings: a pure function of the string (and the deployment's config), kept per isolate.
const flexibleMemo = new Map<string, ResolvedOutput>();
const FLEXIBLE_MEMO_LIMIT = 2000;

/**
 * A named variant from the account's edge state. One it does not know is looked up again at D1's primary before
 * it is refused: the copy may come from a replica that had not seen a variant created moments ago.
 */
async function resolveNamed(c: Ctx, account: AccountEdgeState, rawName: string): Promise<ResolvedOutput> {
  let name: string;
  try {
    name = decodeURIComponent(rawName);
  } catch {
    throw badRequest("the variant name in the URL has a malformed percent-escape");
  }
  const known = (state: AccountEdgeState) => (Object.hasOwn(state.variants, name) ? state.variants[name] : undefined);
  const variant = known(account) ?? known(await accountEdgeState(c.env, c.get("config"), c.executionCtx, "primary"));
  if (!variant) throw notFound(`variant ${JSON.stringify(name)} not found`);
  return { transform: variant.transform, fingerprint: variant.fingerprint, variant: name, neverRequireSignedUrls: variant.neverRequireSignedUrls };
}

/** Flexible options parsed from the raw path segment (each value decoded exactly once by the parser). */
async function resolveFlexible(config: Config, rawSpec: string): Promise<ResolvedOutput> {
  if (!config.flexibleVariants) {
    throw new ApiError(403, ErrorCode.forbidden, "flexible variants are disabled for this account (FLEXIBLE_VARIANTS)");
  }
  const known = flexibleMemo.get(rawSpec);
  if (known) return known;
  const transform = snapWidth(parseFlexibleOptions(rawSpec), config.delivery.allowedWidths);
  const resolved = { transform, fingerprint: await transformFingerprint(transform), variant: null, neverRequireSignedUrls: false };
  if (flexibleMemo.size >= FLEXIBLE_MEMO_LIMIT) flexibleMemo.clear();
  flexibleMemo.set(rawSpec, resolved);
  return resolved;
}

/**
 * With ALLOWED_WIDTHS, `w` is snapped up to the next allowed width (the largest when above them all) and `h`
 * scaled with it, so every width in a band shares one rendition: a client cannot make a new render per pixel.
 */
export function snapWidth(transform: Transform, widths: number[] | undefined): Transform {
  if (!widths || !transform.width) return transform;
  const snapped = widths.find((w) => w >= transform.width!) ?? widths.at(-1)!;
  if (snapped === transform.width) return transform;
  const height = transform.height ? Math.max(1, Math.round((transform.height * snapped) / transform.width)) : undefined;
  return { ...transform, width: snapped, height };
}

function outputSize(image: ImageEdgeState, transform: Transform): { outputWidth: number; outputHeight: number } {
  const output = outputSizeOf(image, transform);
  return { outputWidth: output.width, outputHeight: output.height };
}

/** Browsers keep a delivered image BROWSER_TTL_SECONDS; a signed one privately, and never past its signature's expiry. */
function browserCacheControl(config: Config, signed: boolean, url: URL): string {
  const ttl = config.delivery.browserTtlSeconds;
  if (!signed) return `public, max-age=${ttl}`;
  const exp = Number(url.searchParams.get("exp") ?? NaN);
  const untilExpiry = Number.isFinite(exp) ? Math.max(0, Math.floor(exp - Date.now() / 1000)) : ttl;
  return `private, max-age=${Math.min(ttl, untilExpiry)}`;
}

/** Uncached renders are limited per client (RENDER_LIMITER), so one client cannot make the platform render without end. */
async function limitRenders(c: Ctx): Promise<void> {
  const client = c.req.header("cf-connecting-ip") ?? "anonymous";
  const { success } = await c.env.RENDER_LIMITER.limit({ key: client });
  if (!success) {
    throw new ApiError(429, ErrorCode.rateLimited, "too many uncached renders from this client; cached images are not limited (RENDER_LIMITER)", {
      "retry-after": "60",
    });
  }
}

/**
 * format=json: Cloudflare's JSON answer about the output and the original, computed from the plan (no decode, no
 * encode), and cached like a rendition under the transform's fingerprint.
 */
async function answerInfo(c: Ctx, image: ImageEdgeState, output: ResolvedOutput, cacheControl: string): Promise<Response> {
  const headers = new Headers({ "content-type": "application/json", "cache-control": cacheControl, "x-content-type-options": "nosniff" });
  const cache = await renditionCache();
  const key = renditionCacheKey(image, output.fingerprint, "json");
  const cached = await cache.match(key);
  if (cached?.body) {
    headers.set("etag", cached.headers.get("etag") ?? "");
    headers.set("x-image-source", "HIT");
    return respondWithBytes(c.req.raw, cached.body, Number(cached.headers.get("x-size")), headers);
  }
  const bytes = new TextEncoder().encode(JSON.stringify(imageInfo(image, output.transform)));
  return answerAndCache(c, cache, key, bytes, bytes.length, await renditionEtag(bytes), headers, "RENDERED");
}

/** Answers, and puts a copy in the location's cache for the next request. */
function answerAndCache(
  c: Ctx,
  cache: Cache,
  key: string,
  body: ReadableStream | Uint8Array,
  size: number,
  etag: string,
  headers: Headers,
  source: string,
): Promise<Response> {
  const [forClient, forCache] = body instanceof Uint8Array ? [body, body] : body.tee();
  const entry = new Headers({ "content-type": headers.get("content-type")!, etag, "x-size": String(size), "cache-control": CACHE_ENTRY_CONTROL });
  // The copy is written on the next turn of the event loop, once the answer is on its way.
  const put = () => cache.put(key, new Response(forCache, { headers: entry }));
  c.executionCtx.waitUntil(nextTurn().then(put).catch(() => {}));
  headers.set("etag", etag);
  headers.set("x-image-source", source);
  return respondWithBytes(c.req.raw, forClient, size, headers);
}
