import { WorkerEntrypoint } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { CodecError } from "../../wasm/src/errors.ts";
import { probeImage } from "../../wasm/src/probe.ts";
import { parseConfig } from "../shared/config.ts";
import { database } from "../shared/db.ts";
import { ApiError, ErrorCode, describeError, fromCodecError } from "../shared/errors.ts";
import { parseProcessJob } from "../shared/messages.ts";
import type { RenderRequest, RenderResponse } from "../shared/render.ts";
import { images } from "../shared/schema.ts";
import { originalKey } from "../shared/storage.ts";
import type { ProcessorEnv } from "./env.ts";
import { processJob, recordDeadLetter } from "./jobs.ts";
import { renderAndStore } from "./pipeline/render.ts";

const DEAD_LETTER_SUFFIX = "-dlq";

/** On-demand renders for the gateway (service binding RPC): a variant or format not produced yet. */
export class RenderService extends WorkerEntrypoint<ProcessorEnv> {
  async render(request: RenderRequest): Promise<RenderResponse> {
    try {
      const [image] = await database(this.env.DB).select().from(images).where(eq(images.id, request.imageId));
      if (!image || image.status === "deleted" || image.status === "draft") {
        throw new ApiError(404, ErrorCode.notFound, `image ${JSON.stringify(request.imageId)} not found`);
      }
      const object = await this.env.BUCKET.get(originalKey(image.id));
      if (!object) throw new ApiError(404, ErrorCode.notFound, `the original of image ${JSON.stringify(image.id)} is not in storage`);
      const original = new Uint8Array(await object.arrayBuffer());
      const [stored] = await renderAndStore(this.env, parseConfig(this.env, false), image.id, original, probeImage(original), [request]);
      return { ok: true, bytes: stored.bytes, contentType: stored.contentType, httpEtag: stored.httpEtag, width: stored.width, height: stored.height };
    } catch (error) {
      const apiError =
        error instanceof ApiError
          ? error
          : error instanceof CodecError
            ? fromCodecError(error)
            : new ApiError(503, ErrorCode.unavailable, `rendering failed, try again: ${describeError(error)}`);
      if (!(error instanceof ApiError) && !(error instanceof CodecError)) console.error("render failed", error);
      return { ok: false, status: apiError.status, code: apiError.code, message: apiError.message };
    }
  }
}

export default {
  /** Consumes the job queue and its dead-letter queue (see wrangler.toml); one message per batch. */
  async queue(batch, env) {
    const deadLetters = batch.queue.endsWith(DEAD_LETTER_SUFFIX);
    for (const message of batch.messages) {
      let job;
      try {
        job = parseProcessJob(message.body);
      } catch (error) {
        console.error(describeError(error));
        message.ack();
        continue;
      }
      if (deadLetters) {
        await recordDeadLetter(env, job);
        message.ack();
        continue;
      }
      try {
        await processJob(env, job);
        message.ack();
      } catch (error) {
        console.error(`job for image ${job.imageId} failed (attempt ${message.attempts}), retrying:`, describeError(error));
        message.retry({ delaySeconds: Math.min(60, 2 ** message.attempts) });
      }
    }
  },
} satisfies ExportedHandler<ProcessorEnv>;
