import { database } from "../../shared/db.ts";
import { envelope } from "../../shared/errors.ts";
import { countImages } from "../records.ts";
import { router } from "../app.ts";

/** `/accounts/:account_id/images/v1/stats`: images stored and allowed. */
export const statsRoutes = router();

statsRoutes.get("/v1/stats", async (c) => {
  const current = await countImages(database(c.env.DB));
  return c.json(envelope({ count: { current, allowed: c.get("config").maxImages } }));
});
