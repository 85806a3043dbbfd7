import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import { parseConfig } from "../shared/config.ts";
import { ApiError, ErrorCode, describeError, errorResponse } from "../shared/errors.ts";
import { router } from "./app.ts";
import { requireApiToken } from "./auth.ts";
import { deliveryRoutes } from "./delivery/routes.ts";
import type { GatewayEnv } from "./env.ts";
import { directUploadRoutes, uploadUrlRoutes } from "./routes/direct-uploads.ts";
import { imageRoutes } from "./routes/images.ts";
import { keyRoutes } from "./routes/keys.ts";
import { statsRoutes } from "./routes/stats.ts";
import { tokenRoutes } from "./routes/tokens.ts";
import { variantRoutes } from "./routes/variants.ts";

export { ImageCoordinator } from "./coordinator.ts";

const app = router();

app.use(async (c, next) => {
  c.set("config", parseConfig(c.env));
  await next();
});

app.get("/healthz", async (c) => {
  const checks = await Promise.allSettled([c.env.DB.prepare("SELECT 1").first(), c.env.BUCKET.head("healthz")]);
  const failed = checks.flatMap((r, i) => (r.status === "rejected" ? [`${["d1", "r2"][i]}: ${describeError(r.reason)}`] : []));
  return c.json({ ok: failed.length === 0, failed }, failed.length === 0 ? 200 : 503);
});

// Management API, behind one auth middleware that also decides each route's scope (auth.ts). Routes are
// registered before their parametrised siblings (`/v1/variants` before `/v1/:image_id`).
app.use("/client/v4/accounts/:account_id/*", requireApiToken);
const api = router();
api.route("/", statsRoutes);
api.route("/", keyRoutes);
api.route("/", variantRoutes);
api.route("/", directUploadRoutes);
api.route("/", imageRoutes);
app.route("/client/v4/accounts/:account_id/images", api);
app.route("/client/v4/accounts/:account_id/tokens", tokenRoutes);

// Browsers post to one-time upload URLs from other origins, and pages read delivered images from canvas/fetch.
app.use("/upload/*", cors({ origin: "*", allowMethods: ["POST", "OPTIONS"] }));
app.use("/cdn-cgi/imagedelivery/*", cors({ origin: "*", allowMethods: ["GET", "HEAD", "OPTIONS"], exposeHeaders: ["ETag"] }));
app.route("/upload", uploadUrlRoutes);
app.route("/cdn-cgi/imagedelivery", deliveryRoutes);

app.notFound(() => errorResponse(new ApiError(404, ErrorCode.notFound, "no such route")));

app.onError((error, c) => {
  if (error instanceof ApiError) return errorResponse(error);
  if (error instanceof HTTPException) return errorResponse(new ApiError(error.status, ErrorCode.badRequest, error.message));
  console.error(`${c.req.method} ${new URL(c.req.url).pathname} failed:`, error);
  return errorResponse(new ApiError(500, ErrorCode.internal, "internal error"));
});

export default { fetch: app.fetch } satisfies ExportedHandler<GatewayEnv>;
