import { asc } from "drizzle-orm";
import { admitRender } from "../../wasm/src/admission.ts";
import type { ImageHeader } from "../../wasm/src/probe.ts";
import type { Config } from "./config.ts";
import type { Db } from "./db.ts";
import { eagerRequests, renderTargetsOf } from "./eager-set.ts";
import { ApiError, ErrorCode } from "./errors.ts";
import { variants } from "./schema.ts";

const MiB = 1024 * 1024;

/**
 * Refuses, from the header alone, an upload whose eager set (every named variant, in its eager formats) the
 * engine could not render within the memory budget: 413 naming the budget, so it is never accepted and failed
 * later. Both upload paths run it: the gateway on a multipart or URL upload, the processor on a direct-to-R2
 * object as soon as its header is read.
 */
export async function checkRenderable(db: Db, headerBytes: Uint8Array, header: ImageHeader, byteLength: number, config: Pick<Config, "memoryBudgetBytes">): Promise<void> {
  const named = await db.select().from(variants).orderBy(asc(variants.id));
  const requests = await eagerRequests(named, header);
  if (requests.length === 0) return;
  const budget = config.memoryBudgetBytes;
  const { fits, plan, peak } = admitRender(headerBytes, header, byteLength, renderTargetsOf(header, requests), budget);
  if (fits) return;
  const needs = Math.max(plan.peakBytes, byteLength);
  throw new ApiError(
    413,
    ErrorCode.tooLarge,
    `this ${header.width}×${header.height} ${header.format} cannot be rendered within the ${Math.round(budget / MiB)} MB memory budget (MEMORY_BUDGET_MB): ` +
      `its variants need ${Math.ceil(needs / MiB)} MB${plan.peakBytes >= byteLength ? `, peak at ${peak.phase}` : " for the file alone"}`,
  );
}
