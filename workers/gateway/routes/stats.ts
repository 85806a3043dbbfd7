import { envelope } from "../../shared/errors.ts";
import { countImages } from "../../shared/image-records.ts";
import { router } from "../app.ts";

/** `/accounts/:account_id/images/v1/stats`: images stored and allowed. */
export const statsRoutes = router();

statsRoutes.get("/", async (c) => {
  const current = await countImages(c.get("db"));
  return c.json(envelope({ count: { current, allowed: c.get("config").maxImages } }));
});
