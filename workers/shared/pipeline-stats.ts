import { and, count, eq, gte, inArray, lt, min } from "drizzle-orm";
import type { Db } from "./db.ts";
import type { PhaseTimings, RenderTrigger } from "./log.ts";
import { IMAGE_STATUSES, images, pipelineSamples, webhookDeliveries, type ImageStatus, type PipelineSampleKind } from "./schema.ts";

// The live pipeline state behind our extension of `GET /images/v1/stats`. It lives in D1 because it must be the
// same whichever isolate answers and survive isolate restarts, and D1 already holds the images it counts; the
// processor adds one small row per job render and per dead letter, and an image's coordinator one per on-demand
// render, in the batch that writes its renditions row. No single Durable Object has to serialise them.

/** How far back "recent" reaches: failures, dead letters and render percentiles of the last hour. */
export const RECENT_MS = 60 * 60 * 1000;
/** Samples are kept this long, then pruned by the gateway's hourly cron. */
export const SAMPLE_RETENTION_MS = 24 * 60 * 60 * 1000;

/** Statuses an image moves on from by itself: the pipeline still owes it work. */
const IN_FLIGHT: ImageStatus[] = ["queued", "processing"];

export interface PipelineStats {
  /** Images by status (drafts are direct uploads not used yet; `deleted` is never counted: the record is gone). */
  byStatus: Record<ImageStatus, number>;
  /** Age in seconds of the oldest image still queued or processing (0 when none is). */
  oldestInFlightSeconds: number;
  lastHour: {
    /** Images that reached `failed` in the last hour. */
    failed: number;
    /** Images that reached `ready` in the last hour (the failure ratio's other half). */
    ready: number;
    /** Queue messages that ended in a dead-letter queue: image jobs, backfill batches, webhook deliveries. */
    deadLetters: number;
    renders: number;
    /** Wall-clock render time (read original, render, store), or null with no render in the hour. */
    renderMsP50: number | null;
    renderMsP99: number | null;
  };
}

/**
 * A render's time as its sample counts it: reading the original, rendering, storing. A sample written in the D1
 * batch that stores the render's outputs (a job's, an on-demand render's) counts what came before that batch.
 */
export function renderSampleMs(phases: PhaseTimings): number {
  return (phases.fetchOriginal ?? 0) + (phases.render ?? 0) + (phases.store ?? 0);
}

/** The insert that records a finished render, for a caller that batches it with its own writes. */
export function renderSampleInsert(db: Db, trigger: RenderTrigger, ms: number) {
  return db.insert(pipelineSamples).values({ kind: "render", at: new Date().toISOString(), ms: Math.round(ms), detail: trigger });
}

/** Records a finished render for the percentiles. */
export async function recordRenderSample(db: Db, trigger: RenderTrigger, ms: number): Promise<void> {
  await renderSampleInsert(db, trigger, ms);
}

/** Records a queue message that exhausted its retries. */
export async function recordDeadLetterSample(db: Db, messageType: string): Promise<void> {
  await db.insert(pipelineSamples).values({ kind: "dead_letter", at: new Date().toISOString(), detail: messageType });
}

/** Drops samples older than the retention; answers how many went. */
export async function prunePipelineSamples(db: Db, now = Date.now()): Promise<number> {
  const gone = await db.delete(pipelineSamples).where(lt(pipelineSamples.at, new Date(now - SAMPLE_RETENTION_MS).toISOString())).returning({ id: pipelineSamples.id });
  return gone.length;
}

export async function readPipelineStats(db: Db, now = Date.now()): Promise<PipelineStats> {
  const since = new Date(now - RECENT_MS).toISOString();
  const recent = (kind: PipelineSampleKind) => and(eq(pipelineSamples.kind, kind), gte(pipelineSamples.at, since));
  const [statusRows, [oldest], recentOutcomes, [deadLetters], [webhookDeadLetters], [renders]] = await Promise.all([
    db.select({ status: images.status, n: count() }).from(images).groupBy(images.status),
    db.select({ uploaded: min(images.uploaded) }).from(images).where(inArray(images.status, IN_FLIGHT)),
    db
      .select({ status: images.status, n: count() })
      .from(images)
      .where(and(inArray(images.status, ["ready", "failed"]), gte(images.updatedAt, since)))
      .groupBy(images.status),
    db.select({ n: count() }).from(pipelineSamples).where(recent("dead_letter")),
    db.select({ n: count() }).from(webhookDeliveries).where(and(eq(webhookDeliveries.outcome, "dead_letter"), gte(webhookDeliveries.startedAt, since))),
    db.select({ n: count() }).from(pipelineSamples).where(recent("render")),
  ]);
  const byStatus = Object.fromEntries(IMAGE_STATUSES.map((s) => [s, 0])) as Record<ImageStatus, number>;
  for (const row of statusRows) byStatus[row.status] = row.n;
  const outcome = (status: ImageStatus) => recentOutcomes.find((r) => r.status === status)?.n ?? 0;
  const percentile = async (p: number): Promise<number | null> => {
    if (renders.n === 0) return null;
    // Nearest-rank percentile: the sample at rank ceil(p·n) of the hour's renders (one sort of the hour's rows).
    const [row] = await db
      .select({ ms: pipelineSamples.ms })
      .from(pipelineSamples)
      .where(recent("render"))
      .orderBy(pipelineSamples.ms)
      .limit(1)
      .offset(Math.max(0, Math.ceil(p * renders.n) - 1));
    return row?.ms ?? null;
  };
  const [renderMsP50, renderMsP99] = await Promise.all([percentile(0.5), percentile(0.99)]);
  return {
    byStatus,
    oldestInFlightSeconds: oldest?.uploaded ? Math.max(0, Math.floor((now - Date.parse(oldest.uploaded)) / 1000)) : 0,
    lastHour: {
      failed: outcome("failed"),
      ready: outcome("ready"),
      deadLetters: deadLetters.n + webhookDeadLetters.n,
      renders: renders.n,
      renderMsP50,
      renderMsP99,
    },
  };
}
