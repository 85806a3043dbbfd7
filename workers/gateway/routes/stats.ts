import { count, ne } from "drizzle-orm";
import { database } from "../../shared/db.ts";
import { envelope } from "../../shared/errors.ts";
import { images } from "../../shared/schema.ts";
import { router } from "../app.ts";

/** `/accounts/:account_id/images/v1/stats`: images stored and allowed. */
export const statsRoutes = router();

statsRoutes.get("/v1/stats", async (c) => {
  const [{ current }] = await database(c.env.DB).select({ current: count() }).from(images).where(ne(images.status, "deleted"));
  return c.json(envelope({ count: { current, allowed: c.get("config").maxImages } }));
});
