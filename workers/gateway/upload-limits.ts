import { CONTENT_TYPES, type ImageFormat } from "../../wasm/src/probe.ts";
import type { UploadLimits } from "../shared/bindings.ts";
import type { Config } from "../shared/config.ts";
import { ApiError, ErrorCode, badRequest, quote } from "../shared/errors.ts";
import { parseDecimalInteger, parseDecimalNumber } from "../shared/numerals.ts";
import { overUploadUrlBytes } from "../shared/upload-checks.ts";

/** The input formats an upload URL may be restricted to (the probe's vocabulary; `jpg` is taken for `jpeg`). */
const INPUT_FORMATS = Object.keys(CONTENT_TYPES) as ImageFormat[];

/**
 * Our extension of `POST /v2/direct_upload`: `maxBytes`, `maxMegapixels` and `formats` bind the upload URL it
 * returns. They can only tighten the account's limits; each arrives as JSON (number, array) or as a form field
 * (decimal text, comma-separated list).
 */
export function parseUploadLimits(fields: Record<string, unknown>, config: Config): UploadLimits {
  const limits: UploadLimits = {};
  if (present(fields.maxBytes)) {
    const n = typeof fields.maxBytes === "number" ? fields.maxBytes : parseDecimalInteger(String(fields.maxBytes));
    if (n === undefined || !Number.isSafeInteger(n) || n < 1) throw badRequest(`maxBytes must be a whole number of bytes, got ${quote(fields.maxBytes)}`);
    const account = accountByteLimit(config);
    if (n > account.bytes) throw badRequest(`maxBytes can only tighten the account's limit of ${account.bytes} bytes (${account.name}), got ${n}`);
    limits.maxBytes = n;
  }
  if (present(fields.maxMegapixels)) {
    const n = typeof fields.maxMegapixels === "number" ? fields.maxMegapixels : parseDecimalNumber(String(fields.maxMegapixels));
    const accountMp = config.limits.maxPixels / 1e6;
    if (n === undefined || !Number.isFinite(n) || n <= 0) throw badRequest(`maxMegapixels must be a positive number, got ${quote(fields.maxMegapixels)}`);
    if (n > accountMp) throw badRequest(`maxMegapixels can only tighten the account's limit of ${accountMp} megapixels (MAX_PIXELS), got ${n}`);
    limits.maxMegapixels = n;
  }
  if (present(fields.formats)) {
    const raw = Array.isArray(fields.formats) ? fields.formats : String(fields.formats).split(",");
    const formats = raw.map((f) => (typeof f === "string" ? f.trim().toLowerCase() : f)).map((f) => (f === "jpg" ? "jpeg" : f));
    const unknown = formats.filter((f) => !INPUT_FORMATS.includes(f as ImageFormat));
    if (formats.length === 0 || unknown.length > 0) {
      throw badRequest(`formats must list some of ${INPUT_FORMATS.join(", ")}; not accepted: ${unknown.map((f) => quote(f)).join(", ") || "an empty list"}`);
    }
    limits.formats = [...new Set(formats as ImageFormat[])];
  }
  return limits;
}

/**
 * The largest file a direct upload can take: what a presigned `PUT` may carry when R2 credentials are configured,
 * else what the multipart upload URL takes.
 */
function accountByteLimit(config: Config): { bytes: number; name: string } {
  const direct = config.directUploads;
  if (direct.signer && direct.maxBytes > config.limits.maxUploadBytes) return { bytes: direct.maxBytes, name: "MAX_DIRECT_UPLOAD_BYTES" };
  return { bytes: config.limits.maxUploadBytes, name: "MAX_UPLOAD_BYTES" };
}

/**
 * Our extension of `POST /v2/direct_upload`: `size`, the exact byte length of the file to come. The presigned `PUT`
 * then binds it as Content-Length. Refused when no upload route could take a file that large.
 */
export function parseDeclaredSize(raw: unknown, config: Config, limits: UploadLimits): number | undefined {
  if (!present(raw)) return undefined;
  const n = typeof raw === "number" ? raw : parseDecimalInteger(String(raw));
  if (n === undefined || !Number.isSafeInteger(n) || n < 1) throw badRequest(`size must be a whole number of bytes, got ${quote(raw)}`);
  const account = accountByteLimit(config);
  if (n > account.bytes) throw new ApiError(413, ErrorCode.tooLarge, `size is ${n} bytes; the account takes at most ${account.bytes} (${account.name})`);
  if (limits.maxBytes !== undefined && n > limits.maxBytes) throw badRequest(`size is ${n} bytes, over this upload URL's maxBytes of ${limits.maxBytes}`);
  return n;
}

/** The account's config with an upload URL's byte limit applied, for reading its body. */
export function withUploadLimits(config: Config, limits: UploadLimits): Config {
  if (limits.maxBytes === undefined) return config;
  return { ...config, limits: { ...config.limits, maxUploadBytes: Math.min(config.limits.maxUploadBytes, limits.maxBytes) } };
}

/** Refuses a declared body already over the URL's byte limit, before any of it is read. */
export function checkDeclaredSize(request: Request, limits: UploadLimits): void {
  const declared = Number(request.headers.get("content-length") ?? NaN);
  // Multipart framing adds a little around the file: the same 64 KiB allowance as every upload route.
  if (limits.maxBytes !== undefined && declared > limits.maxBytes + 64 * 1024) throw overUploadUrlBytes(declared, limits.maxBytes);
}

const present = (v: unknown) => v !== undefined && v !== null && v !== "";
