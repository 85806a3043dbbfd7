import { constantTimeEqual, hmacSha256Hex } from "../../shared/crypto.ts";
import { ApiError, ErrorCode } from "../../shared/errors.ts";

/**
 * Verifies a signed delivery URL: `sig` is the hex HMAC-SHA256, under one of the account's signing keys, of the
 * path plus "?" plus the query without `sig` (as written, so `exp` is covered); `exp`, when present, is a unix
 * time after which the URL is refused.
 */
export async function verifySignedUrl(url: URL, keys: string[], now = Date.now()): Promise<void> {
  const sig = url.searchParams.get("sig");
  if (!sig) throw forbidden("this image requires a signed URL (exp and sig query parameters)");
  const exp = url.searchParams.get("exp");
  if (exp !== null) {
    if (!/^\d+$/.test(exp)) throw forbidden("exp must be a unix timestamp");
    if (Number(exp) * 1000 < now) throw forbidden("the signed URL has expired");
  }
  const message = signedMessage(url);
  for (const key of keys) {
    if (await constantTimeEqual(await hmacSha256Hex(key, message), sig.toLowerCase())) return;
  }
  throw forbidden("the URL signature does not match");
}

/** The text a signature covers: path + "?" + the query string with the `sig` parameter removed. */
export function signedMessage(url: URL): string {
  const query = url.search
    .slice(1)
    .split("&")
    .filter((part) => part !== "" && !part.startsWith("sig="))
    .join("&");
  return `${url.pathname}?${query}`;
}

/** Signs a delivery URL (used by tests and by callers that hold a key). */
export async function signUrl(url: URL, key: string, expiresAt?: number): Promise<URL> {
  const signed = new URL(url);
  signed.searchParams.delete("sig");
  if (expiresAt !== undefined) signed.searchParams.set("exp", String(Math.floor(expiresAt / 1000)));
  signed.searchParams.set("sig", await hmacSha256Hex(key, signedMessage(signed)));
  return signed;
}

function forbidden(message: string): ApiError {
  return new ApiError(403, ErrorCode.forbidden, message);
}
