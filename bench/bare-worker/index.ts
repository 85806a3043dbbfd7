/**
 * The bare Worker the load harness compares cached delivery against: `GET /<path>` answers what the Cache API
 * holds for it, else 404. `PUT /<path>` stores the body under the headers given as JSON in `x-cached-headers`,
 * so the harness can put there the exact bytes and headers the platform served (a PUT's own headers — host,
 * content-length — are not the response's).
 */
const CACHE_ORIGIN = "https://bare-cache.internal";

export default {
  async fetch(request): Promise<Response> {
    const { pathname } = new URL(request.url);
    if (pathname === "/healthz") return new Response("ok");
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
} satisfies ExportedHandler;
