import type { MiddlewareHandler } from "hono";
import { routePath } from "hono/route";
import { ApiError, ErrorCode } from "../shared/errors.ts";
import { log, requestIdOf, since, type LogLine } from "../shared/log.ts";
import { recordDelivery, recordUpload, type DeliveryPoint } from "../shared/metrics.ts";
import type { GatewayContext } from "./app.ts";

const DELIVERY_PREFIX = "/cdn-cgi/imagedelivery/";
const CACHE_RESULTS: readonly string[] = ["HIT", "STORED", "RENDERED"];

/**
 * Gives every request its id (answered as `x-request-id`, carried into queue messages and RPC calls), and writes
 * its one log line when the answer is ready: every API request, and deliveries sampled at
 * DELIVERY_LOG_SAMPLE_RATE (every failed one). A delivery also writes its data point. Nothing here reads D1 or a
 * Durable Object, so the cached hit path stays what it was plus a few synchronous calls.
 */
export const logRequests: MiddlewareHandler<GatewayContext> = async (c, next) => {
  const requestId = requestIdOf(c.req.raw);
  const started = Date.now();
  c.set("requestId", requestId);
  c.set("logFields", {});
  await next();
  try {
    c.res.headers.set("x-request-id", requestId);
  } catch {
    // An answer passed through from elsewhere (a Durable Object's stream) has immutable headers: copy it.
    c.res = new Response(c.res.body, c.res);
    c.res.headers.set("x-request-id", requestId);
  }

  const status = c.res.status;
  const ms = since(started);
  const code = c.error instanceof ApiError ? c.error.code : status >= 500 ? ErrorCode.internal : undefined;
  const line: LogLine = { event: "api.request", requestId, method: c.req.method, route: routePath(c), status, ms, code, ...c.get("logFields") };
  if (!new URL(c.req.url).pathname.startsWith(DELIVERY_PREFIX)) {
    log(line);
    const upload = c.get("upload");
    if (upload) recordUpload(c.env, { ...upload, status, ms, outcome: status < 400 ? "accepted" : String(code ?? status) });
    return;
  }
  const source = c.res.headers.get("x-image-source") ?? "";
  const delivery: DeliveryPoint = {
    cache: CACHE_RESULTS.includes(source) ? (source as DeliveryPoint["cache"]) : "ERROR",
    format: (c.res.headers.get("content-type") ?? "").replace(/^image\//, "").split(";")[0],
    status,
    bytes: Number(c.res.headers.get("content-length") ?? 0) || 0,
    ms,
  };
  recordDelivery(c.env, delivery);
  if (status >= 400 || Math.random() < c.get("config").delivery.logSampleRate) {
    log({ ...line, event: "delivery", cache: delivery.cache, format: delivery.format || undefined, bytes: delivery.bytes });
  }
};
