import { badRequest } from "../shared/errors.ts";

/** Where a `GET /images/v2` page ended: the last image's upload time and id (the list's sort key). */
export interface ListPosition {
  uploaded: string;
  id: string;
}

/**
 * Longer than any token we issue: an id is at most 1024 characters of up to 4 UTF-8 bytes (or 2 JSON bytes for an
 * escaped `"` or `\`), plus a timestamp, in base64.
 */
const MAX_TOKEN_LENGTH = 8192;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** The opaque `continuation_token` of a position: base64url (safe in a query string unescaped) of UTF-8 JSON. */
export function encodeContinuationToken(position: ListPosition): string {
  const bytes = new TextEncoder().encode(JSON.stringify([position.uploaded, position.id]));
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Reads a token back; anything this API did not issue is a 400, whatever its shape. */
export function decodeContinuationToken(token: string | undefined): ListPosition | undefined {
  if (!token) return undefined;
  const refuse = () => badRequest("continuation_token is not one this API issued");
  if (token.length > MAX_TOKEN_LENGTH || !BASE64URL.test(token)) throw refuse();
  let parsed: unknown;
  try {
    const binary = atob(token.replace(/-/g, "+").replace(/_/g, "/"));
    const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
    parsed = JSON.parse(text);
  } catch {
    throw refuse();
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) throw refuse();
  const [uploaded, id] = parsed as unknown[];
  if (typeof uploaded !== "string" || typeof id !== "string" || Number.isNaN(Date.parse(uploaded)) || id === "") throw refuse();
  return { uploaded, id };
}
