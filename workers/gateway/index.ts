import { cors } from "hono/cors";
import { routePath } from "hono/route";
import { HTTPException } from "hono/http-exception";
import { LOCAL_R2_PATH, parseConfig, type Config } from "../shared/config.ts";
import { database, primary } from "../shared/db.ts";
import { prunePipelineSamples } from "../shared/pipeline-stats.ts";
import { errorDetail, log, newRequestId } from "../shared/log.ts";
import { ApiError, ErrorCode, badRequest, describeError, errorResponse } from "../shared/errors.ts";
import { router } from "./app.ts";
import { requireApiToken } from "./auth.ts";
import { deliveryRoutes } from "./delivery/routes.ts";
import type { GatewayEnv } from "./env.ts";
import { SimulatedCrash } from "./faults.ts";
import { resendOwedWork } from "./owed-work.ts";
import { localR2Routes } from "./local-r2/endpoint.ts";
import { logRequests } from "./request-log.ts";
import { directUploadRoutes, uploadUrlRoutes } from "./routes/direct-uploads.ts";
import { imageRoutes } from "./routes/images.ts";
import { keyRoutes } from "./routes/keys.ts";
import { statsRoutes } from "./routes/stats.ts";
import { tokenRoutes } from "./routes/tokens.ts";
import { variantRoutes } from "./routes/variants.ts";
import { webhookRoutes } from "./routes/webhooks.ts";
import { sweepFlexibleRenditions } from "./sweep.ts";

export { ImageCoordinator } from "./coordinator.ts";

const app = router();

// The config is a pure function of the bindings, which stay the same for an isolate's life: parse it once.
const configs = new WeakMap<GatewayEnv, Config>();
app.use(async (c, next) => {
  let config = configs.get(c.env);
  if (!config) configs.set(c.env, (config = parseConfig(c.env)));
  c.set("config", config);
  await next();
});
app.use(logRequests);

app.get("/healthz", async (c) => {
  const checks = await Promise.allSettled([c.env.DB.prepare("SELECT 1").first(), c.env.BUCKET.head("healthz")]);
  const failed = checks.flatMap((r, i) => (r.status === "rejected" ? [`${["d1", "r2"][i]}: ${describeError(r.reason)}`] : []));
  return c.json({ ok: failed.length === 0, failed }, failed.length === 0 ? 200 : 503);
});

/**
 * Management API, behind one auth middleware that also decides each route's scope (auth.ts). Reads and writes go
 * through one D1 session per request: at the primary, so a `get` right after an `upload` sees it, unless the
 * client sends the `x-d1-bookmark` of an earlier answer, which lets a replica at least that recent serve it.
 * Every answer carries the session's bookmark.
 */
const BOOKMARK = /^[0-9A-Za-z-]{1,256}$/;
app.use("/client/v4/accounts/:account_id/*", requireApiToken, async (c, next) => {
  const bookmark = c.req.header("x-d1-bookmark");
  if (bookmark !== undefined && !BOOKMARK.test(bookmark)) throw badRequest("x-d1-bookmark is not a bookmark this API issued");
  const session = c.env.DB.withSession(bookmark ?? "first-primary");
  c.set("db", database(session));
  await next();
  const latest = session.getBookmark();
  if (latest) c.header("x-d1-bookmark", latest);
});
const api = router();
api.route("/v1/stats", statsRoutes);
api.route("/v1/keys", keyRoutes);
api.route("/v1/variants", variantRoutes);
api.route("/v1/webhooks", webhookRoutes);
api.route("/v2/direct_upload", directUploadRoutes);
api.route("/", imageRoutes);
app.route("/client/v4/accounts/:account_id/images", api);
app.route("/client/v4/accounts/:account_id/tokens", tokenRoutes);

// Browsers post to one-time upload URLs from other origins, and pages read delivered images from canvas/fetch.
app.use("/upload/*", cors({ origin: "*", allowMethods: ["GET", "POST", "OPTIONS"] }));
app.use("/cdn-cgi/imagedelivery/*", cors({ origin: "*", allowMethods: ["GET", "HEAD", "OPTIONS"], exposeHeaders: ["ETag", "Content-Length", "Content-Range"] }));
app.route("/upload", uploadUrlRoutes);
app.route("/cdn-cgi/imagedelivery", deliveryRoutes);
// `npm start` only (LOCAL_R2_ENDPOINT=enabled): stands in for R2's S3 endpoint, which Miniflare lacks. A browser
// PUTs there from another origin, as it does to R2 under the bucket's CORS rule.
app.use(`${LOCAL_R2_PATH}/*`, cors({ origin: "*", allowMethods: ["PUT"], allowHeaders: ["content-type"], exposeHeaders: ["ETag"] }));
app.route(LOCAL_R2_PATH, localR2Routes);

app.notFound(() => errorResponse(new ApiError(404, ErrorCode.notFound, "no such route")));

app.onError((error, c) => {
  if (error instanceof ApiError) return errorResponse(error);
  if (error instanceof HTTPException) return errorResponse(new ApiError(error.status, ErrorCode.badRequest, error.message));
  if (error instanceof SimulatedCrash) return errorResponse(new ApiError(500, ErrorCode.internal, error.message));
  log({ event: "error", requestId: c.get("requestId"), method: c.req.method, route: routePath(c), message: describeError(error), detail: errorDetail(error) });
  return errorResponse(new ApiError(500, ErrorCode.internal, "internal error"));
});

export default {
  fetch: app.fetch,
  /**
   * Cron (wrangler.toml `[triggers]`; locally scripts/start.mjs calls it): expire flexible renditions, and send
   * owed events and stalled backfill batches again.
   */
  async scheduled(_controller, env, ctx) {
    const requestId = newRequestId();
    ctx.waitUntil(sweepFlexibleRenditions(env, parseConfig(env)).then((n) => n > 0 && log({ event: "cron", requestId, outcome: "swept", detail: { flexibleRenditions: n } })));
    ctx.waitUntil(prunePipelineSamples(database(primary(env.DB))).catch((error) => log({ event: "warning", requestId, message: `pruning pipeline samples: ${describeError(error)}` })));
    ctx.waitUntil(
      resendOwedWork(env).then((n) => (n.events > 0 || n.backfills > 0) && log({ event: "cron", requestId, outcome: "resent", detail: { events: n.events, backfills: n.backfills } })),
    );
  },
} satisfies ExportedHandler<GatewayEnv>;
