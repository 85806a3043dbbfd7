import { badRequest } from "./errors.ts";

/** Settings read from `env` (wrangler vars and secrets), parsed once per request into a validated object. */
export interface Config {
  apiToken: string;
  accountId: string;
  accountHash: string;
  /** Public origin used in delivery and upload URLs; the request's own origin when unset. */
  publicUrl?: string;
  limits: {
    maxUploadBytes: number;
    maxPixels: number;
    maxSide: number;
  };
  flexibleVariants: boolean;
  /** Images an account may hold (reported by `/stats`). */
  maxImages: number;
  /** How long a processor may hold an image before its job is handed out again. */
  leaseSeconds: number;
  /** Delivery attempts per job before it is dead-lettered (mirrors the queue's max_retries + 1). */
  maxAttempts: number;
  directUploadDefaultExpirySeconds: number;
  memoryBudgetBytes: number;
  /** How long a client may take to send a request body before it is answered 408. */
  bodyTimeoutSeconds: number;
  /** Upload-from-URL: where the gateway may fetch a source image from, and how long it waits. */
  sources: SourcePolicy;
}

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
  FLEXIBLE_VARIANTS?: string;
  MAX_IMAGES?: string;
  LEASE_SECONDS?: string;
  MAX_ATTEMPTS?: string;
  MEMORY_BUDGET_MB?: string;
  UPLOAD_BODY_TIMEOUT_SECONDS?: string;
  ALLOWED_SOURCES?: string;
  ALLOW_LOOPBACK_SOURCES?: string;
  SOURCE_HEADERS_TIMEOUT_SECONDS?: string;
  SOURCE_FETCH_TIMEOUT_SECONDS?: string;
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
      maxPixels: positiveInt(env.MAX_PIXELS, 100_000_000, "MAX_PIXELS"),
      maxSide: positiveInt(env.MAX_SIDE, 12_000, "MAX_SIDE"),
    },
    flexibleVariants: (env.FLEXIBLE_VARIANTS ?? "true") !== "false",
    maxImages: positiveInt(env.MAX_IMAGES, 100_000, "MAX_IMAGES"),
    leaseSeconds: positiveInt(env.LEASE_SECONDS, 120, "LEASE_SECONDS"),
    maxAttempts: positiveInt(env.MAX_ATTEMPTS, 4, "MAX_ATTEMPTS"),
    directUploadDefaultExpirySeconds: 30 * 60,
    memoryBudgetBytes: positiveInt(env.MEMORY_BUDGET_MB, 96, "MEMORY_BUDGET_MB") * 1024 * 1024,
    bodyTimeoutSeconds: positiveInt(env.UPLOAD_BODY_TIMEOUT_SECONDS, 60, "UPLOAD_BODY_TIMEOUT_SECONDS"),
    sources: parseSourcePolicy(env),
  };
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

function positiveInt(raw: string | undefined, fallback: number, name: string): number {
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`configuration: ${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return value;
}

/** Parses a boolean form/JSON field the way Cloudflare accepts it ("true"/"false", true/false). */
export function parseBoolean(value: unknown, name: string): boolean | undefined {
  if (value === undefined || value === null || value === "") return undefined;
  if (value === true || value === "true" || value === "1") return true;
  if (value === false || value === "false" || value === "0") return false;
  throw badRequest(`${name} must be true or false, got ${JSON.stringify(value)}`);
}
