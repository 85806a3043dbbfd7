import { asc } from "drizzle-orm";
import { CodecError } from "../../wasm/src/errors.ts";
import { parseConfig } from "../shared/config.ts";
import { coordinatorOf } from "../shared/coordinators.ts";
import { database, primary } from "../shared/db.ts";
import { describeError } from "../shared/errors.ts";
import type { ProcessJob } from "../shared/messages.ts";
import { discardLife } from "../shared/renditions.ts";
import { findImageLife, imageLifeUpdate, placeholderColumns } from "../shared/image-records.ts";
import { variants } from "../shared/schema.ts";
import { imageStorageId } from "../shared/storage.ts";
import { readStoredOriginal } from "./pipeline/stored-original.ts";
import { eagerRequests, renderAndStore } from "./eager-renditions.ts";
import type { ProcessorEnv } from "./env.ts";
import { newRenderTrace, reportRender, timed, type RenderTrace } from "./render-trace.ts";
import { recordDeadLetterSample } from "../shared/pipeline-stats.ts";

export type JobOutcome = "ready" | "skipped" | "failed";

/**
 * Renders every named variant of an image, once its coordinator grants the lease. Permanent failures (the file
 * will not decode, a limit is exceeded) are recorded as `failed` with the reason and the job is done; anything
 * else is thrown so the queue retries it, and ends in the dead-letter queue after the last retry. Renditions are
 * stored under the job's life; if that life ended while the job ran, they are removed again.
 */
export async function processJob(env: ProcessorEnv, job: ProcessJob, trace: RenderTrace = newRenderTrace()): Promise<JobOutcome> {
  const config = parseConfig(env, false);
  const coordinator = coordinatorOf(env, job.imageId);
  const { requestId } = job;
  const claim = await coordinator.claim(job.generation, requestId);
  if (claim.action === "skip") return "skipped";
  const image = { imageId: job.imageId, life: claim.life, storageId: await imageStorageId(job.imageId) };
  const db = database(primary(env.DB));
  let outputs = 0;
  try {
    const record = await findImageLife(db, job.imageId, claim.life);
    if (!record) {
      // The coordinator outlived its record (deleted between the two): end it visibly rather than lease forever.
      await coordinator.fail("the image record is missing", requestId);
      return "failed";
    }
    const { header, source: original } = await timed(trace, "fetchOriginal", async () => {
      const stored = await readStoredOriginal(env.BUCKET, job.originalKey);
      if (!stored) throw new CodecError("corrupt", "the original is missing from storage");
      return stored;
    });
    const named = await db.select().from(variants).orderBy(asc(variants.id));
    const requests = await eagerRequests(named, header);
    outputs = requests.length;
    // The placeholder and the render's stats sample go in the D1 batch that indexes the renditions: written before
    // the coordinator's ready makes the record visible as such (a retried job writes them again).
    await renderAndStore(env, config, image, original, header, requests, trace, "job", (placeholder, batch) =>
      placeholder ? [imageLifeUpdate(batch, job.imageId, claim.life, placeholderColumns(placeholder))] : [],
    );
    reportRender(env, trace, { trigger: "job", requestId, imageId: job.imageId, outputs, outcome: "ok" });
    const status = await coordinator.complete(claim.life, requestId);
    if (status === "deleted") await discardLife(env, image);
    return status === "ready" ? "ready" : "skipped";
  } catch (error) {
    if (error instanceof CodecError) {
      reportRender(env, trace, { trigger: "job", requestId, imageId: job.imageId, outputs, outcome: error.kind, message: error.message });
      await coordinator.fail(error.message, requestId);
      return "failed";
    }
    await coordinator.release(describeError(error), requestId);
    throw error;
  }
}

/** A job that exhausted its retries: record a visible failure with the last error seen, and count the dead letter. */
export async function recordDeadLetter(env: ProcessorEnv, job: ProcessJob): Promise<void> {
  const coordinator = coordinatorOf(env, job.imageId);
  const { lastError, attempts } = await coordinator.snapshot();
  await coordinator.fail(`processing failed after ${attempts} attempts${lastError ? `: ${lastError}` : ""}`, job.requestId);
  await recordDeadLetterSample(database(primary(env.DB)), job.type);
}
