/**
 * The bare Worker the load harness compares against:
 *  - `GET /<path>` answers what the Cache API holds for it, else 404; `PUT /<path>` stores the body under the
 *    headers given as JSON in `x-cached-headers`, so the harness can put there the exact bytes and headers the
 *    platform served (a PUT's own headers — host, content-length — are not the response's);
 *  - `POST /upload` reads a multipart form and stores its `file` in R2, and nothing else: what any upload Worker
 *    must do at the least, so the harness can tell what a burst of uploads costs delivery on the local runtime
 *    itself (its R2 emulator runs on the thread that serves deliveries) from what the platform adds;
 *  - `PUT /original` stores a JPEG, and `GET /render/<width>[/<tag>]` renders it to a WebP of that width the least way a
 *    Worker can: the lookups any render service makes first (a cache miss, a stored-copy miss in R2, the rate
 *    limiter), the original read from R2, our engine in place, the answer; the cache and R2 copies are written
 *    after it. The harness sets that beside ours' on-demand render, which adds routing, edge state, the coordinator
 *    and the processor.
 */
import { renderTargets } from "../../wasm/src/engine.ts";
import { engineModules } from "../../wasm/src/modules.worker.ts";
import { nextTurn } from "../../workers/shared/timers.ts";

const CACHE_ORIGIN = "https://bare-cache.internal";
const ORIGINAL_KEY = "render/original.jpg";

interface Env {
  BUCKET: R2Bucket;
  RENDER_LIMITER: RateLimit;
}

export default {
  async fetch(request, env, ctx): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname === "/healthz") return new Response("ok");
    if (pathname === "/upload" && request.method === "POST") {
      const file = (await request.formData()).get("file");
      if (!file || typeof file === "string") return new Response("a file field is required", { status: 400 });
      await env.BUCKET.put(`originals/${crypto.randomUUID()}`, new Uint8Array(await file.arrayBuffer()));
      return new Response(null, { status: 201 });
    }
    const cache = await caches.open("bare");
    if (pathname === "/original" && request.method === "PUT") {
      await env.BUCKET.put(ORIGINAL_KEY, request.body, { customMetadata: { size: request.headers.get("x-image-size") ?? "" } });
      return new Response(null, { status: 201 });
    }
    if (pathname.startsWith("/render/") && request.method === "GET") return render(request, env, ctx, cache, pathname);
    const key = new Request(CACHE_ORIGIN + pathname);
    if (request.method === "PUT") {
      const headers = JSON.parse(request.headers.get("x-cached-headers") ?? "{}") as Record<string, string>;
      await cache.put(key, new Response(await request.arrayBuffer(), { headers }));
      return new Response(null, { status: 201 });
    }
    if (request.method !== "GET") return new Response(null, { status: 405 });
    return (await cache.match(key)) ?? new Response("not in cache", { status: 404 });
  },
} satisfies ExportedHandler<Env>;

/**
 * `/render/<width>[/<tag>]`: a render of the stored original to `width` px WebP, as cheaply as a Worker that still
 * looks before it renders; the tag makes another copy of the same output (a fresh render).
 */
async function render(request: Request, env: Env, ctx: ExecutionContext, cache: Cache, pathname: string): Promise<Response> {
  const width = Number(pathname.split("/")[2]);
  if (!Number.isInteger(width) || width < 1 || width > 4000) return new Response("a width of 1 to 4000", { status: 400 });
  const key = new Request(CACHE_ORIGIN + pathname);
  const cached = await cache.match(key);
  if (cached) return cached;
  const storedKey = `${pathname.slice(1)}.webp`;
  const stored = await env.BUCKET.get(storedKey);
  if (stored) return new Response(stored.body, { headers: { "content-type": "image/webp" } });
  const { success } = await env.RENDER_LIMITER.limit({ key: request.headers.get("cf-connecting-ip") ?? "anonymous" });
  if (!success) return new Response("rate limited", { status: 429 });
  const original = await env.BUCKET.get(ORIGINAL_KEY);
  if (!original) return new Response("PUT /original first", { status: 404 });
  const [w, h] = (original.customMetadata?.size ?? "").split("x").map(Number);
  if (!w || !h) return new Response("the original was stored without x-image-size", { status: 500 });
  const bytes = new Uint8Array(await original.arrayBuffer());
  const started = performance.now();
  const [output] = await renderTargets(
    bytes,
    { format: "jpeg", width: w, height: h, orientation: 1, hasAlpha: false },
    [{ width, height: Math.round((h * width) / w), format: "webp", quality: 85, metadata: "none" }],
    { modules: engineModules, maxPixels: 100_000_000 },
  );
  const headers = { "content-type": "image/webp", "server-timing": `engine;dur=${performance.now() - started}` };
  // After the answer, as ours does: a copy in the location's cache and one in R2.
  ctx.waitUntil(
    nextTurn().then(() => Promise.all([cache.put(key, new Response(output.bytes, { headers: { "content-type": "image/webp" } })), env.BUCKET.put(storedKey, output.bytes)])),
  );
  return new Response(output.bytes, { headers });
}
