import { WorkerEntrypoint } from "cloudflare:workers";
import { CodecError } from "../../wasm/src/errors.ts";
import type { RendererApi } from "../shared/bindings.ts";
import { parseConfig, type Config } from "../shared/config.ts";
import { ApiError, ErrorCode, describeError, fromCodecError } from "../shared/errors.ts";
import { carriedRequestId, log, since } from "../shared/log.ts";
import { nextTurn } from "../shared/timers.ts";
import { isVariantBackfillBatch, parseProcessJob, type ProcessJob } from "../shared/messages.ts";
import { recordJob } from "../shared/metrics.ts";
import type { RenderedRendition, RenderFacts, RenderRequest } from "../shared/render.ts";
import { originalKey } from "../shared/storage.ts";
import type { ProcessorEnv } from "./env.ts";
import { processJob, recordDeadLetter } from "./jobs.ts";
import { engineProcess } from "./pipeline/engine-process.ts";
import { renderOutputs } from "./pipeline/render.ts";
import { drawsLayers, loadDrawOriginals } from "./pipeline/draw-layers.ts";
import { RENDER_RETRY_AFTER_SECONDS, withRenderSlot } from "./render-slots.ts";
import { newRenderTrace, reportRender, timed, tracedPhases, type RenderTrace } from "./render-trace.ts";
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
export { ImagesService } from "./images-binding.ts";

export class RenderService extends WorkerEntrypoint<ProcessorEnv> implements RendererApi {
  private readonly config: Config = parseConfig(this.env, false);
  private readonly engine = engineProcess(this.env);

  async render(request: RenderRequest): Promise<RenderedRendition | { error: { status: number; code: number; message: string; retryAfter?: number } }> {
    const trace = newRenderTrace();
    // Reported on the next turn of the event loop: the answer goes back to the coordinator first (locally the log
    // line and the data point share the thread with it). No D1 write here: the coordinator writes the render's
    // sample in one batch with the rendition's index row.
    const report = (outcome: string, message?: string) =>
      this.ctx.waitUntil(
        nextTurn()
          .then(() =>
            reportRender(this.env, trace, {
              trigger: "on-demand",
              requestId: carriedRequestId(request.requestId),
              imageId: request.source.imageId,
              outputs: 1,
              outcome,
              message,
            }),
          )
          .catch(() => {}),
      );
    try {
      const output = await withRenderSlot(async () => {
        const original = await timed(trace, "fetchOriginal", async () => {
          const object = await this.env.BUCKET.get(originalKey(request.source));
          if (!object) throw new ApiError(404, ErrorCode.notFound, `the original of image ${JSON.stringify(request.source.imageId)} is not in storage`);
          return new Uint8Array(await object.arrayBuffer());
        });
        const observe = (facts: RenderFacts) => (trace.facts = facts);
        const drawn = drawsLayers([request]) ? await loadDrawOriginals(this.env.BUCKET, [request]) : undefined;
        const [output] = await timed(trace, "render", () => renderOutputs(this.config, original, request.source, [request], this.engine, observe, undefined, drawn), true);
        return output;
      });
      report("ok");
      return { ...output, timings: tracedPhases(trace) };
    } catch (error) {
      report(error instanceof CodecError ? error.kind : "error", describeError(error));
      const apiError =
        error instanceof ApiError
          ? error
          : error instanceof CodecError
            ? fromCodecError(error)
            : new ApiError(503, ErrorCode.unavailable, `rendering failed, try again: ${describeError(error)}`);
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
        log({ event: "error", message: describeError(error) });
        message.ack();
        continue;
      }
      await consumeProcessJob(env, message, job, deadLetters);
    }
  },
} satisfies ExportedHandler<ProcessorEnv>;

/** One image job (or its dead letter): processed, logged as one `job` line with its phases, and counted. */
async function consumeProcessJob(env: ProcessorEnv, message: Message, job: ProcessJob, deadLetters: boolean): Promise<void> {
  const started = Date.now();
  const queueWaitMs = Math.max(0, started - message.timestamp.getTime());
  const base = { requestId: job.requestId, imageId: job.imageId, attempts: message.attempts, queueWaitMs, generation: job.generation };
  const finish = (outcome: string, trace?: RenderTrace, error?: unknown) => {
    const ms = since(started);
    log({ event: deadLetters ? "job.dead_letter" : "job", ...base, outcome, ms, phases: trace && tracedPhases(trace), message: error === undefined ? undefined : describeError(error) });
    recordJob(env, { type: job.type, outcome, attempts: message.attempts, queueWaitMs, ms });
  };
  if (deadLetters) {
    await recordDeadLetter(env, job);
    finish("dead_letter");
    message.ack();
    return;
  }
  const trace = newRenderTrace();
  try {
    finish(await processJob(env, job, trace), trace);
    message.ack();
  } catch (error) {
    finish("retry", trace, error);
    message.retry({ delaySeconds: Math.min(60, 2 ** message.attempts) });
  }
}
