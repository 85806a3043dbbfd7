import { badRequest } from "./errors.ts";
import { DEFAULT_MAX_ANIMATION_FRAMES, DEFAULT_MAX_ANIMATION_PIXELS } from "../../wasm/src/animation/index.ts";
import { DEFAULT_MAX_SVG_BYTES } from "../../wasm/src/svg-sanitise.ts";

/** Settings read from `env` (wrangler vars and secrets), parsed once per request into a validated object. */
export interface Config {
  apiToken: string;
  accountId: string;
  accountHash: string;
  /** Public origin used in delivery and upload URLs; the request's own origin when unset. */
  publicUrl?: string;
  limits: {
    maxUploadBytes: number;
    /**
     * Multipart uploads one gateway isolate reads and stores at once (each holds its file, up to MAX_UPLOAD_BYTES,
     * about twice while it is parsed and stored); the rest wait their turn.
     */
    uploadConcurrency: number;
    /**
     * A second and later concurrent upload is let in only while the isolate's event loop runs timers at most this
     * late (UPLOAD_MAX_LAG_MS): uploads give way to the deliveries the same isolate serves.
     */
    uploadMaxLagMs: number;
    maxPixels: number;
    maxSide: number;
    /** An animation kept: the summed area of all its frames (MAX_ANIMATION_PIXELS, Cloudflare's 50 MP). */
    maxAnimationPixels: number;
    /** An animation kept: its frames (MAX_ANIMATION_FRAMES). */
    maxAnimationFrames: number;
    /** An SVG upload, before sanitising (MAX_SVG_BYTES). */
    maxSvgBytes: number;
  };
  flexibleVariants: boolean;
  /** Images an account may hold (reported by `/stats`). */
  maxImages: number;
  /** How long a processor may hold an image before its job is handed out again. */
  leaseSeconds: number;
  /** Delivery attempts per job before it is dead-lettered (mirrors the queue's max_retries + 1). */
  maxAttempts: number;
  /** A queued job nobody claimed is enqueued again after this long (doubling on each further try). */
  queueClaimSeconds: number;
  directUploadDefaultExpirySeconds: number;
  memoryBudgetBytes: number;
  delivery: {
    /**
     * How long a location trusts its cached copy of an image's edge state (existence, life, access) and of the
     * account's variants and keys before reading D1 again: the invalidation bound for every other location.
     */
    edgeStateTtlSeconds: number;
    /** Browser cache lifetime of delivered images (Cloudflare Images' default is 2 days). */
    browserTtlSeconds: number;
    /** Flexible renditions are kept in R2 this long after they are rendered, then swept (re-rendered on demand). */
    flexibleTtlSeconds: number;
    /** When set, a flexible `w` is snapped up to the next of these widths (as image loaders expect). */
    allowedWidths?: number[];
    /** Share of successful deliveries that get a log line (0–1); errors are always logged. */
    logSampleRate: number;
    /**
     * Bytes of renditions each gateway isolate keeps in memory, in front of the location's Cache API
     * (delivery/memory-tier.ts); 0 turns the tier off.
     */
    memoryCacheBytes: number;
  };
  /** Images a variant backfill renders per queue message (each is one decode and its eager formats). */
  backfillBatchSize: number;
  /** Test-only switch: lets a request name an ingest step to die after (see workers/gateway/faults.ts). */
  faultInjection: boolean;
  /** How long a client may take to send a request body before it is answered 408. */
  bodyTimeoutSeconds: number;
  /** Upload-from-URL: where the gateway may fetch a source image from, and how long it waits. */
  sources: SourcePolicy;
  /** Direct-to-R2 uploads: presigned `PUT`s to `incoming/` keys, ingested when R2's event notification arrives. */
  directUploads: DirectUploadPolicy;
}

export interface DirectUploadPolicy {
  /** The largest file a presigned `PUT` may carry (MAX_DIRECT_UPLOAD_BYTES); the multipart paths keep MAX_UPLOAD_BYTES. */
  maxBytes: number;
  /** The bucket's name as the S3 API and R2's notifications spell it (the binding hides it). */
  bucketName: string;
  /** What presigning needs; absent without R2 API credentials, and then no `putURL` is offered. */
  signer?: R2Signer;
  /**
   * `npm start` only: the gateway answers S3 `PUT`s of presigned URLs itself, under LOCAL_R2_PATH, since Miniflare
   * has no S3 endpoint and no event notifications (workers/gateway/local-r2/).
   */
  localEndpoint: boolean;
}

export interface R2Signer {
  /** The S3 endpoint, path-style: `<endpoint>/<bucket>/<key>`. */
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** Where the local S3 endpoint answers; `npm start` points R2_S3_ENDPOINT here. Not under /cdn-cgi (Miniflare guards it). */
export const LOCAL_R2_PATH = "/local-r2";

export interface SourcePolicy {
  /** URL prefixes (normalised hrefs) every hop must start with; empty means any public address. */
  allowedPrefixes: string[];
  /** Lets tests and local tools fetch from 127.0.0.0/8, ::1 and localhost; private ranges stay refused. */
  allowLoopback: boolean;
  /** Per hop: time until the response headers arrive. */
  headersTimeoutSeconds: number;
  /** All hops and the body together. */
  totalTimeoutSeconds: number;
}

export interface ConfigEnv {
  API_TOKEN?: string;
  ACCOUNT_ID?: string;
  ACCOUNT_HASH?: string;
  PUBLIC_URL?: string;
  MAX_UPLOAD_BYTES?: string;
  MAX_PIXELS?: string;
  MAX_SIDE?: string;
  MAX_ANIMATION_PIXELS?: string;
  MAX_ANIMATION_FRAMES?: string;
  MAX_SVG_BYTES?: string;
  FLEXIBLE_VARIANTS?: string;
  MAX_IMAGES?: string;
  LEASE_SECONDS?: string;
  MAX_ATTEMPTS?: string;
  MEMORY_BUDGET_MB?: string;
  QUEUE_CLAIM_SECONDS?: string;
  EDGE_STATE_TTL_SECONDS?: string;
  DELIVERY_MEMORY_CACHE_MB?: string;
  BROWSER_TTL_SECONDS?: string;
  FLEXIBLE_RENDITION_TTL_DAYS?: string;
  ALLOWED_WIDTHS?: string;
  FAULT_INJECTION?: string;
  BACKFILL_BATCH_SIZE?: string;
  UPLOAD_BODY_TIMEOUT_SECONDS?: string;
  ALLOWED_SOURCES?: string;
  ALLOW_LOOPBACK_SOURCES?: string;
  SOURCE_HEADERS_TIMEOUT_SECONDS?: string;
  SOURCE_FETCH_TIMEOUT_SECONDS?: string;
  MAX_DIRECT_UPLOAD_BYTES?: string;
  UPLOAD_CONCURRENCY?: string;
  UPLOAD_MAX_LAG_MS?: string;
  R2_S3_ENDPOINT?: string;
  R2_BUCKET_NAME?: string;
  R2_ACCESS_KEY_ID?: string;
  R2_SECRET_ACCESS_KEY?: string;
  LOCAL_R2_ENDPOINT?: string;
  DELIVERY_LOG_SAMPLE_RATE?: string;
}

/**
 * Parses the settings. The gateway needs its secrets (`requireSecrets`); the processor only the limits, so it
 * runs without them.
 */
export function parseConfig(env: ConfigEnv, requireSecrets = true): Config {
  const required = (name: keyof ConfigEnv): string => {
    const value = env[name];
    if (!value && !requireSecrets) return "";
    if (!value) throw new Error(`configuration: ${name} is not set (run \`npm start\` locally, or \`wrangler secret put ${name}\`)`);
    return value;
  };
  return {
    apiToken: required("API_TOKEN"),
    accountId: required("ACCOUNT_ID"),
    accountHash: required("ACCOUNT_HASH"),
    publicUrl: env.PUBLIC_URL?.replace(/\/+$/, "") || undefined,
    limits: {
      maxUploadBytes: positiveInt(env.MAX_UPLOAD_BYTES, 10 * 1024 * 1024, "MAX_UPLOAD_BYTES"),
      uploadConcurrency: positiveInt(env.UPLOAD_CONCURRENCY, 4, "UPLOAD_CONCURRENCY"),
      uploadMaxLagMs: positiveInt(env.UPLOAD_MAX_LAG_MS, 5, "UPLOAD_MAX_LAG_MS"),
      maxPixels: positiveInt(env.MAX_PIXELS, 100_000_000, "MAX_PIXELS"),
      maxSide: positiveInt(env.MAX_SIDE, 12_000, "MAX_SIDE"),
      maxAnimationPixels: positiveInt(env.MAX_ANIMATION_PIXELS, DEFAULT_MAX_ANIMATION_PIXELS, "MAX_ANIMATION_PIXELS"),
      maxAnimationFrames: positiveInt(env.MAX_ANIMATION_FRAMES, DEFAULT_MAX_ANIMATION_FRAMES, "MAX_ANIMATION_FRAMES"),
      maxSvgBytes: positiveInt(env.MAX_SVG_BYTES, DEFAULT_MAX_SVG_BYTES, "MAX_SVG_BYTES"),
    },
    flexibleVariants: (env.FLEXIBLE_VARIANTS ?? "true") !== "false",
    maxImages: positiveInt(env.MAX_IMAGES, 100_000, "MAX_IMAGES"),
    leaseSeconds: positiveInt(env.LEASE_SECONDS, 75, "LEASE_SECONDS"),
    maxAttempts: positiveInt(env.MAX_ATTEMPTS, 4, "MAX_ATTEMPTS"),
    queueClaimSeconds: positiveInt(env.QUEUE_CLAIM_SECONDS, 45, "QUEUE_CLAIM_SECONDS"),
    directUploadDefaultExpirySeconds: 30 * 60,
    memoryBudgetBytes: positiveInt(env.MEMORY_BUDGET_MB, 96, "MEMORY_BUDGET_MB") * 1024 * 1024,
    delivery: {
      edgeStateTtlSeconds: positiveInt(env.EDGE_STATE_TTL_SECONDS, 30, "EDGE_STATE_TTL_SECONDS"),
      browserTtlSeconds: positiveInt(env.BROWSER_TTL_SECONDS, 2 * 24 * 3600, "BROWSER_TTL_SECONDS"),
      flexibleTtlSeconds: positiveInt(env.FLEXIBLE_RENDITION_TTL_DAYS, 30, "FLEXIBLE_RENDITION_TTL_DAYS") * 24 * 3600,
      allowedWidths: parseWidths(env.ALLOWED_WIDTHS),
      logSampleRate: parseRate(env.DELIVERY_LOG_SAMPLE_RATE, 0.01, "DELIVERY_LOG_SAMPLE_RATE"),
      memoryCacheBytes: wholeNumber(env.DELIVERY_MEMORY_CACHE_MB, 16, "DELIVERY_MEMORY_CACHE_MB") * 1024 * 1024,
    },
    backfillBatchSize: parseBackfillBatchSize(env.BACKFILL_BATCH_SIZE),
    faultInjection: env.FAULT_INJECTION === "enabled",
    bodyTimeoutSeconds: positiveInt(env.UPLOAD_BODY_TIMEOUT_SECONDS, 60, "UPLOAD_BODY_TIMEOUT_SECONDS"),
    sources: parseSourcePolicy(env),
    directUploads: parseDirectUploadPolicy(env),
  };
}

function parseDirectUploadPolicy(env: ConfigEnv): DirectUploadPolicy {
  const bucketName = env.R2_BUCKET_NAME || "images";
  // S3 bucket names: 3–63 lowercase letters, digits and hyphens (R2's rule), so they need no escaping in a path.
  if (!/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(bucketName)) throw new Error(`configuration: R2_BUCKET_NAME is not an R2 bucket name, got ${JSON.stringify(bucketName)}`);
  const flag = env.LOCAL_R2_ENDPOINT ?? "disabled";
  if (flag !== "enabled" && flag !== "disabled") throw new Error(`configuration: LOCAL_R2_ENDPOINT must be enabled or disabled, got ${JSON.stringify(flag)}`);
  const { R2_ACCESS_KEY_ID: accessKeyId, R2_SECRET_ACCESS_KEY: secretAccessKey } = env;
  if (!accessKeyId !== !secretAccessKey) {
    throw new Error(`configuration: ${accessKeyId ? "R2_SECRET_ACCESS_KEY" : "R2_ACCESS_KEY_ID"} is not set; presigned uploads need both R2 API credentials`);
  }
  return {
    maxBytes: positiveInt(env.MAX_DIRECT_UPLOAD_BYTES, 100 * 1024 * 1024, "MAX_DIRECT_UPLOAD_BYTES"),
    bucketName,
    signer: accessKeyId && secretAccessKey ? { endpoint: parseS3Endpoint(env), accessKeyId, secretAccessKey } : undefined,
    localEndpoint: flag === "enabled",
  };
}

/** R2_S3_ENDPOINT, by default the account's own R2 endpoint (ACCOUNT_ID is the Cloudflare account's id in production). */
function parseS3Endpoint(env: ConfigEnv): string {
  const raw = env.R2_S3_ENDPOINT || `https://${env.ACCOUNT_ID}.r2.cloudflarestorage.com`;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`configuration: R2_S3_ENDPOINT is not a URL, got ${JSON.stringify(raw)}`);
  }
  if ((url.protocol !== "https:" && url.protocol !== "http:") || url.username || url.search || url.hash) {
    throw new Error(`configuration: R2_S3_ENDPOINT must be an http(s) origin (and path) without credentials, query or fragment, got ${JSON.stringify(raw)}`);
  }
  return url.href.replace(/\/+$/, "");
}

function parseWidths(raw: string | undefined): number[] | undefined {
  if (!raw?.trim()) return undefined;
  const widths = raw.split(",").map((w) => w.trim());
  if (!widths.every((w) => /^[0-9]{1,5}$/.test(w) && Number(w) > 0)) {
    throw new Error(`configuration: ALLOWED_WIDTHS must be comma-separated positive integers, got ${JSON.stringify(raw)}`);
  }
  return [...new Set(widths.map(Number))].sort((a, b) => a - b);
}

function parseSourcePolicy(env: ConfigEnv): SourcePolicy {
  const headersTimeoutSeconds = positiveInt(env.SOURCE_HEADERS_TIMEOUT_SECONDS, 10, "SOURCE_HEADERS_TIMEOUT_SECONDS");
  const totalTimeoutSeconds = positiveInt(env.SOURCE_FETCH_TIMEOUT_SECONDS, 30, "SOURCE_FETCH_TIMEOUT_SECONDS");
  if (headersTimeoutSeconds > totalTimeoutSeconds) {
    throw new Error(
      `configuration: SOURCE_HEADERS_TIMEOUT_SECONDS (${headersTimeoutSeconds}) must not exceed SOURCE_FETCH_TIMEOUT_SECONDS (${totalTimeoutSeconds})`,
    );
  }
  const flag = env.ALLOW_LOOPBACK_SOURCES ?? "false";
  if (flag !== "true" && flag !== "false") throw new Error(`configuration: ALLOW_LOOPBACK_SOURCES must be true or false, got ${JSON.stringify(flag)}`);
  return {
    allowedPrefixes: (env.ALLOWED_SOURCES ?? "").split(",").map((p) => p.trim()).filter(Boolean).map(sourcePrefix),
    allowLoopback: flag === "true",
    headersTimeoutSeconds,
    totalTimeoutSeconds,
  };
}

/** An ALLOWED_SOURCES entry, normalised as fetched URLs are, so `https://cdn.example` cannot match `https://cdn.example.evil`. */
function sourcePrefix(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`configuration: ALLOWED_SOURCES entry ${JSON.stringify(raw)} is not a URL`);
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.username || url.password || url.search || url.hash) {
    throw new Error(`configuration: ALLOWED_SOURCES entry ${JSON.stringify(raw)} must be an http(s) URL prefix without credentials, query or fragment`);
  }
  return url.href;
}

/** A batch runs in one queue invocation, within the processor's CPU limit: keep it far from it whatever is set. */
const MAX_BACKFILL_BATCH_SIZE = 100;

function parseBackfillBatchSize(raw: string | undefined): number {
  const size = positiveInt(raw, 25, "BACKFILL_BATCH_SIZE");
  if (size > MAX_BACKFILL_BATCH_SIZE) throw new Error(`configuration: BACKFILL_BATCH_SIZE must be at most ${MAX_BACKFILL_BATCH_SIZE}, got ${size}`);
  return size;
}

function parseRate(raw: string | undefined, fallback: number, name: string): number {
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!/^[0-9.]+$/.test(raw) || !(value >= 0 && value <= 1)) throw new Error(`configuration: ${name} must be a number from 0 to 1, got ${JSON.stringify(raw)}`);
  return value;
}

function positiveInt(raw: string | undefined, fallback: number, name: string): number {
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`configuration: ${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return value;
}

function wholeNumber(raw: string | undefined, fallback: number, name: string): number {
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!/^[0-9]+$/.test(raw) || !Number.isSafeInteger(value)) throw new Error(`configuration: ${name} must be a whole number (0 or more), got ${JSON.stringify(raw)}`);
  return value;
}

/** Parses a boolean form/JSON field the way Cloudflare accepts it ("true"/"false", true/false). */
export function parseBoolean(value: unknown, name: string): boolean | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (value === true || value === "true" || value === "1") return true;
  if (value === false || value === "false" || value === "0") return false;
  throw badRequest(`${name} must be true or false, got ${JSON.stringify(value)}`);
}
