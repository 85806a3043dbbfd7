import { eq } from "drizzle-orm";
import type { Context } from "hono";
import { orientedSize } from "../../../wasm/src/pixels.ts";
import type { Orientation } from "../../../wasm/src/raster.ts";
import { planGeometry } from "../../processor/pipeline/geometry.ts";
import { coordinatorOf } from "../../shared/coordinators.ts";
import { database } from "../../shared/db.ts";
import { ApiError, ErrorCode, notFound } from "../../shared/errors.ts";
import { images, variants, type ImageRow } from "../../shared/schema.ts";
import { renditionKey } from "../../shared/storage.ts";
import { parseFlexibleOptions, transformFingerprint, transformOfVariant, type OutputFormat, type Transform } from "../../shared/transform.ts";
import { CONTENT_TYPES } from "../../../wasm/src/probe.ts";
import { router, type GatewayContext } from "../app.ts";
import { listKeys } from "../routes/keys.ts";
import { cacheKey } from "./cache.ts";
import { negotiateFormat } from "./negotiate.ts";
import { verifySignedUrl } from "./signing.ts";

const PUBLIC_CACHE_CONTROL = "public, max-age=31536000, immutable";
const SIGNED_CACHE_CONTROL = "private, max-age=3600";

/** `GET /cdn-cgi/imagedelivery/:account_hash/:image_id/:variant`: a named variant or flexible options. */
export const deliveryRoutes = router();

deliveryRoutes.on(["GET", "HEAD"], "/:account_hash/:image_id/:variant", async (c) => {
  const config = c.get("config");
  const { account_hash: accountHash, image_id: imageId, variant: variantSpec } = c.req.param();
  if (accountHash !== config.accountHash) throw notFound("unknown account hash");

  const db = database(c.env.DB);
  const [request, [image]] = await Promise.all([resolveVariant(c, variantSpec), db.select().from(images).where(eq(images.id, imageId))]);
  if (!image || image.status === "deleted") throw notFound(`image ${JSON.stringify(imageId)} not found`);
  if (image.status === "draft") throw notFound(`image ${JSON.stringify(imageId)} has not been uploaded yet`);
  if (image.status === "failed") {
    throw new ApiError(422, ErrorCode.unprocessable, `image ${JSON.stringify(imageId)} could not be processed: ${image.error ?? "unknown error"}`);
  }
  const signed = image.requireSignedUrls && !request.neverRequireSignedUrls;
  if (signed) await verifySignedUrl(new URL(c.req.url), await listKeys(db));

  const format = negotiateFormat(request.transform.format, c.req.header("accept"), {
    hasAlpha: image.hasAlpha ?? false,
    ...outputSize(image, request.transform),
  });
  const fingerprint = await transformFingerprint(request.transform);
  const headers = new Headers({
    "content-type": CONTENT_TYPES[format],
    "cache-control": signed ? SIGNED_CACHE_CONTROL : PUBLIC_CACHE_CONTROL,
    vary: "Accept",
    "x-content-type-options": "nosniff",
  });

  const cache = await caches.open("renditions");
  const key = cacheKey(imageId, fingerprint, format);
  const cached = await cache.match(key);
  if (cached) return finish(c, cached.body, cached.headers.get("etag") ?? "", headers, "HIT");

  const stored = await c.env.BUCKET.get(renditionKey(imageId, fingerprint, format));
  if (stored) return store(c, cache, key, stored.body, stored.httpEtag, headers, "STORED");

  const rendered = await coordinatorOf(c.env, imageId).render({ imageId, transform: request.transform, format, fingerprint, variant: request.variant });
  if (!rendered.ok) throw new ApiError(rendered.status, rendered.code, rendered.message);
  return store(c, cache, key, rendered.bytes, rendered.httpEtag, headers, "RENDERED");
});

interface ResolvedVariant {
  transform: Transform;
  variant: string | null;
  neverRequireSignedUrls: boolean;
}

async function resolveVariant(c: Context<GatewayContext>, spec: string): Promise<ResolvedVariant> {
  if (spec.includes("=")) {
    if (!c.get("config").flexibleVariants) {
      throw new ApiError(403, ErrorCode.forbidden, "flexible variants are disabled for this account (FLEXIBLE_VARIANTS)");
    }
    return { transform: parseFlexibleOptions(spec), variant: null, neverRequireSignedUrls: false };
  }
  const [row] = await database(c.env.DB).select().from(variants).where(eq(variants.id, spec));
  if (!row) throw notFound(`variant ${JSON.stringify(spec)} not found`);
  return { transform: transformOfVariant(row), variant: row.id, neverRequireSignedUrls: row.neverRequireSignedUrls };
}

function outputSize(image: ImageRow, transform: Transform): { outputWidth: number; outputHeight: number } {
  const source = orientedSize(image.width ?? 1, image.height ?? 1, (image.orientation ?? 1) as Orientation);
  const g = planGeometry(source, transform);
  return { outputWidth: g.canvas?.width ?? g.width, outputHeight: g.canvas?.height ?? g.height };
}

/** Answers, and puts a copy in the Cache API (with a public Cache-Control, since our key already enforces access). */
function store(
  c: Context<GatewayContext>,
  cache: Cache,
  key: Request,
  body: ReadableStream | Uint8Array,
  etag: string,
  headers: Headers,
  source: string,
): Response {
  const [forClient, forCache] = body instanceof Uint8Array ? [body, body] : body.tee();
  const cachedHeaders = new Headers(headers);
  cachedHeaders.set("etag", etag);
  cachedHeaders.set("cache-control", PUBLIC_CACHE_CONTROL);
  c.executionCtx.waitUntil(cache.put(key, new Response(forCache, { headers: cachedHeaders })).catch(() => {}));
  return finish(c, forClient, etag, headers, source);
}

function finish(c: Context<GatewayContext>, body: ReadableStream | Uint8Array | null, etag: string, headers: Headers, source: string): Response {
  headers.set("etag", etag);
  headers.set("x-image-source", source);
  const ifNoneMatch = c.req.header("if-none-match");
  if (ifNoneMatch && ifNoneMatch.split(",").some((t) => t.trim() === etag || t.trim() === "*")) {
    if (body instanceof ReadableStream) body.cancel().catch(() => {});
    return new Response(null, { status: 304, headers });
  }
  if (c.req.method === "HEAD") {
    if (body instanceof ReadableStream) body.cancel().catch(() => {});
    return new Response(null, { headers });
  }
  return new Response(body, { headers });
}
