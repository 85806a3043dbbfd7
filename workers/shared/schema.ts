import { sql } from "drizzle-orm";
import { check, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import type { EventType, PlatformEvent } from "./events.ts";
import { IMAGE_STATUSES, type ImageStatus } from "./messages.ts";
import type { Scope } from "./scopes.ts";
import type { Fit, MetadataMode, VariantExtraOptions } from "./transform.ts";

export { IMAGE_STATUSES, type ImageStatus };

export const images = sqliteTable(
  "images",
  {
    id: text("id").primaryKey(),
    /**
     * A random id per upload of this image id. Storage keys and cache keys include it, so an id that is deleted
     * and uploaded again can never be served its predecessor's pixels. Empty for images stored before lives existed.
     */
    life: text("life").notNull().default(""),
    filename: text("filename"),
    /** ISO-8601 upload time; for drafts, the time the direct upload was created. */
    uploaded: text("uploaded").notNull(),
    requireSignedUrls: integer("require_signed_urls", { mode: "boolean" }).notNull().default(false),
    /** User metadata as JSON text (≤ 1024 bytes). */
    /**
     * User metadata (≤ 1024 bytes), a JSON object that SQLite checks (json_valid). It was text in `meta` until
     * migrations 0009–0011 (docs/DESIGN.md, "Changing the schema without downtime").
     */
    meta: text("meta_json", { mode: "json" }).$type<Record<string, unknown>>().notNull().default({}),
    creator: text("creator"),
    status: text("status", { enum: IMAGE_STATUSES }).notNull(),
    error: text("error"),
    /** Facts about the original, known once it is uploaded. */
    format: text("format"),
    contentType: text("content_type"),
    width: integer("width"),
    height: integer("height"),
    orientation: integer("orientation"),
    hasAlpha: integer("has_alpha", { mode: "boolean" }),
    /** More than one frame (GIF, WebP, APNG, AVIF sequence), from the probe at upload; null for images stored before it was recorded. */
    animated: integer("animated", { mode: "boolean" }),
    bytes: integer("bytes"),
    /**
     * The placeholder (our extension, wasm/src/placeholder.ts), written by the processor with the eager
     * renditions: a base64 ThumbHash and the dominant colour as `#rrggbb`. Null until processed, and for images
     * processed before placeholders existed.
     */
    thumbhash: text("thumbhash"),
    dominantColor: text("dominant_color"),
    updatedAt: text("updated_at").notNull().default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`),
  },
  (t) => [
    index("images_uploaded_idx").on(t.uploaded, t.id),
    index("images_creator_idx").on(t.creator, t.uploaded),
    // A direct-to-R2 object's key names its image by storage id; a hashed one is resolved by life.
    index("images_life_idx").on(t.life),
    check("images_meta_json_valid", sql`json_valid(${t.meta})`),
  ],
);

export const variants = sqliteTable("variants", {
  id: text("id").primaryKey(),
  fit: text("fit").$type<Fit>().notNull(),
  width: integer("width").notNull(),
  height: integer("height").notNull(),
  metadata: text("metadata").$type<MetadataMode>().notNull(),
  /** Options beyond Cloudflare's four (our extension), by flexible-variant name, as the API was given them. */
  extra: text("extra_options_json", { mode: "json" }).$type<VariantExtraOptions>().notNull().default({}),
  neverRequireSignedUrls: integer("never_require_signed_urls", { mode: "boolean" }).notNull().default(false),
  updatedAt: text("updated_at").notNull(),
});

/** One stored output of an image: a (transform fingerprint, format) pair in R2. */
export const renditions = sqliteTable(
  "renditions",
  {
    imageId: text("image_id").notNull(),
    /** The image life it was rendered from (see images.life). */
    life: text("life").notNull().default(""),
    fingerprint: text("fingerprint").notNull(),
    format: text("format").notNull(),
    /** The named variant it was produced for, or null for a flexible variant. */
    variant: text("variant"),
    r2Key: text("r2_key").notNull(),
    width: integer("width").notNull(),
    height: integer("height").notNull(),
    bytes: integer("bytes").notNull(),
    etag: text("etag").notNull(),
    createdAt: text("created_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.imageId, t.fingerprint, t.format] }),
    // Flexible renditions (variant null) expire; the sweep walks them oldest first.
    index("renditions_expiry_idx").on(t.variant, t.createdAt),
  ],
);

export const signingKeys = sqliteTable("signing_keys", {
  name: text("name").primaryKey(),
  value: text("value").notNull(),
  createdAt: text("created_at").notNull(),
});

/** Running totals kept in the same batch as the rows they count, so no request has to COUNT(*) a large table. */
export const counters = sqliteTable("counters", {
  name: text("name").primaryKey(),
  value: integer("value").notNull(),
});

/**
 * Scoped API tokens (our extension). Only the SHA-256 of a token is kept: its value is shown once, at creation.
 * A revoked token keeps its row, so the id in an audit log still names a token.
 */
export const apiTokens = sqliteTable("api_tokens", {
  /** Public, random; not derived from the value. */
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  /** Hex SHA-256 of the full token value; requests are authenticated by looking it up. */
  hash: text("hash").notNull().unique(),
  scopes: text("scopes", { mode: "json" }).$type<Scope[]>().notNull(),
  createdAt: text("created_at").notNull(),
  expiresAt: text("expires_at"),
  /** Written at most once a minute per token, so authenticating stays a read. */
  lastUsedAt: text("last_used_at"),
  revokedAt: text("revoked_at"),
});

/**
 * Webhook subscriptions (our extension). The secret is kept as issued: signing needs it, so unlike an API token it
 * cannot be hashed; the API shows it only at creation.
 */
export const webhooks = sqliteTable("webhooks", {
  id: text("id").primaryKey(),
  url: text("url").notNull(),
  events: text("events", { mode: "json" }).$type<EventType[]>().notNull(),
  secret: text("secret").notNull(),
  createdAt: text("created_at").notNull(),
});

export const WEBHOOK_OUTCOMES = ["delivered", "failed", "dead_letter"] as const;
export type WebhookOutcome = (typeof WEBHOOK_OUTCOMES)[number];

/** One row per delivery attempt (and one per delivery given up on), newest last; trimmed per subscription. */
export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    webhookId: text("webhook_id").notNull(),
    eventId: text("event_id").notNull(),
    eventType: text("event_type").$type<EventType>().notNull(),
    attempt: integer("attempt").notNull(),
    outcome: text("outcome", { enum: WEBHOOK_OUTCOMES }).notNull(),
    /** The subscriber's HTTP status, when it answered. */
    statusCode: integer("status_code"),
    error: text("error"),
    startedAt: text("started_at").notNull(),
    finishedAt: text("finished_at").notNull(),
  },
  (t) => [index("webhook_deliveries_webhook_idx").on(t.webhookId, t.id)],
);

export const BACKFILL_STATUSES = ["running", "complete", "cancelled", "failed"] as const;
export type BackfillStatus = (typeof BACKFILL_STATUSES)[number];

/**
 * Renders of a named variant for the images that were ready before it was created or changed (our extension),
 * walked in batches by (uploaded, id). One row per backfill; a newer one for the same variant cancels it.
 */
export const variantBackfills = sqliteTable(
  "variant_backfills",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    variant: text("variant").notNull(),
    /** The variant definition this backfill renders; a changed definition is a new backfill. */
    fingerprint: text("fingerprint").notNull(),
    status: text("status", { enum: BACKFILL_STATUSES }).notNull(),
    /** Ready images counted when it started; once complete, the images it went through. */
    total: integer("total").notNull(),
    done: integer("done").notNull().default(0),
    failed: integer("failed").notNull().default(0),
    /** Images deleted or uploaded again while they were rendered: their renditions were discarded. */
    skipped: integer("skipped").notNull().default(0),
    /** Batches committed; the message of batch n is applied only while this is n, so a redelivery counts nothing. */
    batches: integer("batches").notNull().default(0),
    /** Whether the message of the next batch (number `batches`) has been sent. */
    nextQueued: integer("next_queued", { mode: "boolean" }).notNull().default(false),
    /** Keyset cursor: the last image of the last committed batch. */
    cursorUploaded: text("cursor_uploaded"),
    cursorId: text("cursor_id"),
    lastError: text("last_error"),
    startedAt: text("started_at").notNull(),
    updatedAt: text("updated_at").notNull(),
    finishedAt: text("finished_at"),
  },
  (t) => [
    index("variant_backfills_variant_idx").on(t.variant, t.id),
    // At most one backfill per variant runs: starting one cancels the previous in the same batch.
    uniqueIndex("variant_backfills_running_idx").on(t.variant).where(sql`${t.status} = 'running'`),
  ],
);

/**
 * Events owed to the event queue: written in the same D1 batch as the change they report and deleted once the
 * queue has taken them, so a refused send (or a crash before it) is sent again later with the same id.
 */
export const eventOutbox = sqliteTable("event_outbox", {
  id: text("id").primaryKey(),
  event: text("event", { mode: "json" }).$type<PlatformEvent>().notNull(),
  createdAt: text("created_at").notNull(),
});

export type ImageRow = typeof images.$inferSelect;
export type VariantRow = typeof variants.$inferSelect;
export type RenditionRow = typeof renditions.$inferSelect;
export type ApiTokenRow = typeof apiTokens.$inferSelect;
export type WebhookRow = typeof webhooks.$inferSelect;
export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;
export type VariantBackfillRow = typeof variantBackfills.$inferSelect;

/** What a pipeline sample records: a finished render (with its time), or a job that ended in a dead-letter queue. */
export const PIPELINE_SAMPLE_KINDS = ["render", "dead_letter"] as const;
export type PipelineSampleKind = (typeof PIPELINE_SAMPLE_KINDS)[number];

/**
 * Recent pipeline activity for `GET /images/v1/stats` (render p50/p99, dead letters in the last hour): one row per
 * render or dead letter, written by the processor, kept a day (the gateway's hourly cron prunes older rows).
 */
export const pipelineSamples = sqliteTable(
  "pipeline_samples",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    kind: text("kind", { enum: PIPELINE_SAMPLE_KINDS }).notNull(),
    /** ISO-8601 time the render finished or the dead letter was recorded. */
    at: text("at").notNull(),
    /** A render's wall-clock time (read, render, store). */
    ms: integer("ms"),
    /** render: its trigger (job, on-demand, backfill); dead_letter: the queue message's type. */
    detail: text("detail"),
  },
  (t) => [index("pipeline_samples_kind_at_idx").on(t.kind, t.at)],
);
export type PipelineSampleRow = typeof pipelineSamples.$inferSelect;
