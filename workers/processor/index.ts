import { WorkerEntrypoint } from "cloudflare:workers";
import { CodecError } from "../../wasm/src/errors.ts";
import type { RendererApi } from "../shared/bindings.ts";
import { parseConfig, type Config } from "../shared/config.ts";
import { ApiError, ErrorCode, describeError, fromCodecError } from "../shared/errors.ts";
import { isVariantBackfillBatch, parseProcessJob } from "../shared/messages.ts";
import type { RenderedRendition, RenderRequest } from "../shared/render.ts";
import { originalKey } from "../shared/storage.ts";
import type { ProcessorEnv } from "./env.ts";
import { processJob, recordDeadLetter } from "./jobs.ts";
import { engineProcess } from "./pipeline/engine-process.ts";
import { renderOutputs } from "./pipeline/render.ts";
import { RENDER_RETRY_AFTER_SECONDS, withRenderSlot } from "./render-slots.ts";
import { consumeBackfillBatch } from "./variant-backfill.ts";
import { consumeUploadNotifications } from "./direct-uploads.ts";
import { consumeEvents } from "./webhook-delivery.ts";

const DEAD_LETTER_SUFFIX = "-dlq";
const EVENT_QUEUE = "image-events";
const UPLOAD_QUEUE = "image-uploads";

/**
 * On-demand renders for the gateway (service binding RPC), through the image's coordinator. The request carries
 * what the gateway knows of the original (keys, size, orientation, format), so a render reads the original and
 * nothing else: no D1 row, no probe. The coordinator stores the result.
 */
export class RenderService extends WorkerEntrypoint<ProcessorEnv> implements RendererApi {
  private readonly config: Config = parseConfig(this.env, false);
  private readonly engine = engineProcess(this.env);

  async render(request: RenderRequest): Promise<RenderedRendition | { error: { status: number; code: number; message: string; retryAfter?: number } }> {
    try {
      return await withRenderSlot(async () => {
        const object = await this.env.BUCKET.get(originalKey(request.source));
        if (!object) throw new ApiError(404, ErrorCode.notFound, `the original of image ${JSON.stringify(request.source.imageId)} is not in storage`);
        const original = new Uint8Array(await object.arrayBuffer());
        const [output] = await renderOutputs(this.config, original, request.source, [request], this.engine);
        return output;
      });
    } catch (error) {
      const apiError =
        error instanceof ApiError
          ? error
          : error instanceof CodecError
            ? fromCodecError(error)
            : new ApiError(503, ErrorCode.unavailable, `rendering failed, try again: ${describeError(error)}`);
      if (!(error instanceof ApiError) && !(error instanceof CodecError)) console.error("render failed", error);
      const retryAfter = apiError.status === 503 ? RENDER_RETRY_AFTER_SECONDS : undefined;
      return { error: { status: apiError.status, code: apiError.code, message: apiError.message, retryAfter } };
    }
  }
}

export default {
  /** Consumes the job queue, the event queue, R2's upload notifications and their dead-letter queues (see wrangler.toml). */
  async queue(batch, env) {
    const deadLetters = batch.queue.endsWith(DEAD_LETTER_SUFFIX);
    if (batch.queue.startsWith(EVENT_QUEUE)) return consumeEvents(batch, env, deadLetters);
    if (batch.queue.startsWith(UPLOAD_QUEUE)) return consumeUploadNotifications(batch, env, deadLetters);
    for (const message of batch.messages) {
      if (isVariantBackfillBatch(message.body)) {
        await consumeBackfillBatch(message, env, deadLetters);
        continue;
      }
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
