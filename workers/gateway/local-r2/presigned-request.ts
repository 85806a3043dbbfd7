import { constantTimeEqual, toHex } from "../../shared/crypto.ts";

// Verifies an S3 query-string presignature (SigV4, "Authenticating Requests: Using Query Parameters") the way R2
// does, for the local S3 endpoint. Written from the specification rather than with aws4fetch, the library that
// presigns: a presigned URL that passes here was checked by a second, independent implementation.

/** A refusal, as S3 answers it: an error code, a message naming the reason, and the HTTP status. */
export interface S3Refusal {
  status: number;
  code: string;
  message: string;
}

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

const ALGORITHM = "AWS4-HMAC-SHA256";
const QUERY_FIELDS = ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature"] as const;
const MAX_EXPIRES_SECONDS = 7 * 24 * 3600;
/** S3 takes a request dated this far in the future (clock skew), no further. */
const MAX_SKEW_MS = 15 * 60 * 1000;

const denied = (message: string, code = "AccessDenied"): S3Refusal => ({ status: 403, code, message });

/** Checks a request's presignature, expiry and signed headers; undefined when the request may proceed. */
export async function verifyPresignedRequest(request: Request, credentials: S3Credentials, now = Date.now()): Promise<S3Refusal | undefined> {
  const url = new URL(request.url);
  const query = url.searchParams;
  const missing = QUERY_FIELDS.filter((name) => !query.get(name));
  if (missing.length > 0) {
    return denied(`Query-string authentication requires the ${QUERY_FIELDS.join(", ")} parameters; missing: ${missing.join(", ")}`);
  }
  const field = (name: (typeof QUERY_FIELDS)[number]) => query.get(name)!;
  if (field("X-Amz-Algorithm") !== ALGORITHM) return denied(`X-Amz-Algorithm must be ${ALGORITHM}`);

  const amzDate = field("X-Amz-Date");
  const dated = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!dated) return denied(`X-Amz-Date must be a basic ISO 8601 time (yyyyMMddTHHmmssZ), got ${JSON.stringify(amzDate)}`);
  const signedAt = Date.UTC(+dated[1], +dated[2] - 1, +dated[3], +dated[4], +dated[5], +dated[6]);

  const scope = field("X-Amz-Credential").split("/");
  if (scope.length !== 5 || scope[1] !== amzDate.slice(0, 8) || !scope[2] || scope[3] !== "s3" || scope[4] !== "aws4_request") {
    return denied("X-Amz-Credential must be <access key id>/<date of X-Amz-Date>/<region>/s3/aws4_request");
  }
  if (!(await constantTimeEqual(scope[0], credentials.accessKeyId))) {
    return denied("The access key id you provided does not exist in our records.", "InvalidAccessKeyId");
  }

  const expires = Number(field("X-Amz-Expires"));
  if (!Number.isSafeInteger(expires) || expires < 1 || expires > MAX_EXPIRES_SECONDS) {
    return denied(`X-Amz-Expires must be a whole number of seconds from 1 to ${MAX_EXPIRES_SECONDS}`);
  }
  if (signedAt - now > MAX_SKEW_MS) return denied("Request is not valid yet (X-Amz-Date is in the future)");
  if (now > signedAt + expires * 1000) {
    return denied(`Request has expired: the URL was valid until ${new Date(signedAt + expires * 1000).toISOString()}`);
  }

  const signedHeaders = field("X-Amz-SignedHeaders").split(";");
  if (!signedHeaders.includes("host") || signedHeaders.some((h, i) => h !== h.toLowerCase() || (i > 0 && signedHeaders[i - 1] >= h))) {
    return denied("X-Amz-SignedHeaders must list host and the other signed headers in lowercase, sorted, once each");
  }

  let path: string;
  try {
    path = canonicalUri(url.pathname);
  } catch {
    return denied("the request path is not valid percent-encoding");
  }
  const canonicalRequest = [
    request.method,
    path,
    canonicalQuery(query),
    signedHeaders.map((name) => `${name}:${headerValue(request, url, name)}\n`).join(""),
    signedHeaders.join(";"),
    "UNSIGNED-PAYLOAD",
  ].join("\n");
  const stringToSign = [ALGORITHM, amzDate, scope.slice(1).join("/"), toHex(await crypto.subtle.digest("SHA-256", utf8(canonicalRequest)))].join("\n");
  let key: ArrayBuffer = utf8(`AWS4${credentials.secretAccessKey}`).buffer as ArrayBuffer;
  for (const part of [...scope.slice(1, 4), "aws4_request"]) key = await hmac(key, part);
  const expected = toHex(await hmac(key, stringToSign));
  if (await constantTimeEqual(expected, field("X-Amz-Signature"))) return undefined;

  const bound = signedHeaders.includes("content-length")
    ? ` This URL's signature binds Content-Length to the size declared when it was made; this request sent ${request.headers.get("content-length") ?? "none"}.`
    : "";
  return denied(`The request signature we calculated does not match the signature you provided (method, key, query or signed headers differ).${bound}`, "SignatureDoesNotMatch");
}

/** S3's canonical URI: each path segment decoded, then UriEncoded once (the slashes stay). */
function canonicalUri(pathname: string): string {
  return pathname
    .split("/")
    .map((segment) => uriEncode(decodeURIComponent(segment)))
    .join("/");
}

/** Every query parameter but the signature, names and values UriEncoded, sorted by name (then value). */
function canonicalQuery(query: URLSearchParams): string {
  return [...query]
    .filter(([name]) => name !== "X-Amz-Signature")
    .map(([name, value]) => [uriEncode(name), uriEncode(value)])
    .sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0))
    .map(([name, value]) => `${name}=${value}`)
    .join("&");
}

function headerValue(request: Request, url: URL, name: string): string {
  if (name === "host") return url.host;
  return (request.headers.get(name) ?? "").trim().replace(/\s+/g, " ");
}

/** UriEncode: RFC 3986 unreserved characters (A–Z a–z 0–9 - _ . ~) stay, every other byte is %XX. */
function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

const utf8 = (text: string) => new TextEncoder().encode(text);

async function hmac(key: ArrayBuffer, message: string): Promise<ArrayBuffer> {
  const cryptoKey = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return crypto.subtle.sign("HMAC", cryptoKey, utf8(message));
}
