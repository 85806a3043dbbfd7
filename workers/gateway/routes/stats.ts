import { envelope } from "../../shared/errors.ts";
import { countImages } from "../../shared/image-records.ts";
import { readPipelineStats } from "../../shared/pipeline-stats.ts";
import { router } from "../app.ts";

/**
 * `/accounts/:account_id/images/v1/stats`: images stored and allowed (Cloudflare's `count`, unchanged), and our
 * extension `pipeline`: the live state an operator alerts on (see docs/DESIGN.md, "Alerts").
 */
export const statsRoutes = router();

statsRoutes.get("/", async (c) => {
  const db = c.get("db");
  const [current, pipeline] = await Promise.all([countImages(db), readPipelineStats(db)]);
  return c.json(envelope({ count: { current, allowed: c.get("config").maxImages }, pipeline }));
});
