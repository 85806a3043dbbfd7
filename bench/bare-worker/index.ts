/**
 * The bare Worker the load harness compares against:
 *  - `GET /<path>` answers what the Cache API holds for it, else 404; `PUT /<path>` stores the body under the
 *    headers given as JSON in `x-cached-headers`, so the harness can put there the exact bytes and headers the
 *    platform served (a PUT's own headers — host, content-length — are not the response's);
 *  - `POST /upload` reads a multipart form and stores its `file` in R2, and nothing else: what any upload Worker
 *    must do at the least, so the harness can tell what a burst of uploads costs delivery on the local runtime
 *    itself (its R2 emulator runs on the thread that serves deliveries) from what the platform adds.
 */
const CACHE_ORIGIN = "https://bare-cache.internal";

interface Env {
  BUCKET: R2Bucket;
}

export default {
  async fetch(request, env): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname === "/healthz") return new Response("ok");
    if (pathname === "/upload" && request.method === "POST") {
      const file = (await request.formData()).get("file");
      if (!file || typeof file === "string") return new Response("a file field is required", { status: 400 });
      await env.BUCKET.put(`originals/${crypto.randomUUID()}`, new Uint8Array(await file.arrayBuffer()));
      return new Response(null, { status: 201 });
    }
    const cache = await caches.open("bare");
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
