import { WorkerEntrypoint } from "cloudflare:workers";
import { CodecError } from "../../wasm/src/errors.ts";
import type { SourceStream } from "../../wasm/src/source-stream.ts";
import type { RendererApi } from "../shared/bindings.ts";
import { parseConfig, type Config } from "../shared/config.ts";
import { ApiError, ErrorCode, describeError, fromCodecError } from "../shared/errors.ts";
import { carriedRequestId, log, since } from "../shared/log.ts";
import { nextTurn } from "../shared/timers.ts";
import { isVariantBackfillBatch, parseProcessJob, type ProcessJob } from "../shared/messages.ts";
import { recordJob } from "../shared/metrics.ts";
import { drawsLayers, RENDER_RETRY_AFTER_SECONDS, type RenderBatch, type RenderError, type RenderFacts, type RenderResult } from "../shared/render.ts";
import { originalKey } from "../shared/storage.ts";
import type { ProcessorEnv } from "./env.ts";
import { processJob, recordDeadLetter } from "./jobs.ts";
import { engineProcess } from "./pipeline/engine-process.ts";
import { renderOutputs } from "./pipeline/render.ts";
import { loadDrawOriginals } from "./pipeline/draw-layers.ts";
import { withRenderSlot } from "./render-slots.ts";
import { newRenderTrace, reportRender, timed, tracedPhases, type RenderTrace } from "./render-trace.ts";
import { consumeBackfillBatch } from "./variant-backfill.ts";
import { consumeUploadNotifications } from "./direct-uploads.ts";
import { consumeEvents } from "./webhook-delivery.ts";

const DEAD_LETTER_SUFFIX = "-dlq";
const EVENT_QUEUE = "image-events";
const UPLOAD_QUEUE = "image-uploads";

/**
 * On-demand renders for the gateway (service binding RPC), through the image's coordinator. A call carries what
 * the gateway knows of the original (keys, size, orientation, format) and one or more outputs of it, so a render
 * reads the original once, decodes it once for all its outputs, and reads nothing else: no D1 row, no probe. The
 * coordinator stores the results.
 */
export { ImagesService } from "./images-binding.ts";

export class RenderService extends WorkerEntrypoint<ProcessorEnv> implements RendererApi {
  private readonly config: Config = parseConfig(this.env, false);
  private readonly engine = engineProcess(this.env);

  async render(batch: RenderBatch): Promise<RenderResult[]> {
    const trace = newRenderTrace();
    const requestIds = batch.outputs.flatMap((o) => carriedRequestId(o.requestId) ?? []);
    // Reported on the next turn of the event loop: the answer goes back to the coordinator first (locally the log
    // line and the data point share the thread with it). No D1 write here: the coordinator writes the render's
    // sample in one batch with the renditions' index rows.
    const report = (outcome: string, message?: string) =>
      this.ctx.waitUntil(
        nextTurn()
          .then(() =>
            reportRender(this.env, trace, {
              trigger: "on-demand",
              requestId: requestIds[0],
              batchedWith: requestIds.length > 1 ? requestIds.slice(1) : undefined,
              imageId: batch.source.imageId,
              outputs: batch.outputs.length,
              outcome,
              message,
            }),
          )
          .catch(() => {}),
      );
    try {
      const outputs = await withRenderSlot(async () => {
        const { source } = batch;
        // R2's own body stream, as a job's (stored-original.ts): the engine writes it where its decoder reads it, or
        // the runtime pipes it on to the render process, with no JavaScript per chunk and no copy held here.
        const original: SourceStream = await timed(trace, "fetchOriginal", async () => {
          const object = await this.env.BUCKET.get(originalKey(source));
          if (!object) throw new ApiError(404, ErrorCode.notFound, `the original of image ${JSON.stringify(source.imageId)} is not in storage`);
          return { byteLength: object.size, stream: object.body };
        });
        const observe = (facts: RenderFacts) => (trace.facts = facts);
        const drawn = drawsLayers(batch.outputs) ? await loadDrawOriginals(this.env.BUCKET, batch.outputs) : undefined;
        try {
          return await timed(trace, "render", () => renderOutputs(this.config, original, source, batch.outputs, this.engine, observe, undefined, drawn), true);
        } catch (error) {
          // Refused before the engine read it (a limit, a plan over the budget): the body is let go, not left open.
          if (!original.stream.locked) original.stream.cancel().catch(() => {});
          throw error;
        }
      });
      report("ok");
      const timings = tracedPhases(trace);
      return outputs.map((output) => ({ ...output, timings }));
    } catch (error) {
      report(error instanceof CodecError ? error.kind : "error", describeError(error));
      // A limit is a target's own (its size, its options) or the batch's together (the memory plan): then each
      // output is rendered alone, so one over a limit does not cost the others theirs.
      if (batch.outputs.length > 1 && error instanceof CodecError && error.kind === "limit") return this.renderEach(batch);
      const failure = { error: renderError(error) };
      return batch.outputs.map(() => failure);
    }
  }

  private async renderEach(batch: RenderBatch): Promise<RenderResult[]> {
    const results: RenderResult[] = [];
    for (const output of batch.outputs) results.push(...(await this.render({ source: batch.source, outputs: [output] })));
    return results;
  }
}

/** A failed render as the coordinator answers it; a 503 says when to try again. */
function renderError(error: unknown): RenderError {
  const apiError =
    error instanceof ApiError
      ? error
      : error instanceof CodecError
        ? fromCodecError(error)
        : new ApiError(503, ErrorCode.unavailable, `rendering failed, try again: ${describeError(error)}`);
  const retryAfter = apiError.status === 503 ? RENDER_RETRY_AFTER_SECONDS : undefined;
  return { status: apiError.status, code: apiError.code, message: apiError.message, retryAfter };
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
