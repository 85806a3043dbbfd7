import type { Context } from "hono";
import { imageStorageId } from "../shared/storage.ts";
import type { GatewayContext } from "./app.ts";
import { listRenditions } from "../shared/image-records.ts";
import { forgetAccount, forgetImage } from "./delivery/edge-state.ts";
import { sleep } from "../shared/timers.ts";

/**
 * After a change that delivery must see (docs/DESIGN.md, "Invalidation"): this location forgets the image's edge
 * state and cached renditions before the API call answers, and once more a few seconds later, in case a delivery
 * that read D1 just before the change stores its copy just after it. Other locations: within EDGE_STATE_TTL_SECONDS.
 */
export async function invalidateImage(c: Context<GatewayContext>, id: string, cached: { life: string; fingerprint: string; format: string }[]) {
  const storageId = await imageStorageId(id);
  await forgetImage(id, storageId, cached);
  c.executionCtx.waitUntil(sleep(AFTERTHOUGHT_MS).then(() => forgetImage(id, storageId, [])));
}

/** The rendition index to pass to invalidateImage; read it before the records go. */
export const cachedRenditions = (c: Context<GatewayContext>, id: string) => listRenditions(c.get("db"), id);

/** After a change to variants or signing keys. */
export async function invalidateAccount(c: Context<GatewayContext>) {
  await forgetAccount();
  c.executionCtx.waitUntil(sleep(AFTERTHOUGHT_MS).then(forgetAccount));
}

/** When the location that handled a change forgets it a second time. */
export const AFTERTHOUGHT_MS = 3000;
