import type { Config, SourcePolicy } from "../shared/config.ts";
import { ApiError, ErrorCode, badRequest } from "../shared/errors.ts";
import { boundStream, uploadTooLarge } from "./request-body.ts";
import { classifyHost, describeHost } from "./source-address.ts";

/** Redirects followed for one upload-from-URL; every hop is checked like the first. */
const MAX_SOURCE_REDIRECTS = 5;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

export interface SourceImage {
  bytes: Uint8Array;
  filename?: string;
}

/**
 * Checks a source URL from its text alone, and refuses it with a 400 naming the rule it breaks: http(s) only, no
 * credentials, a public address (loopback only under ALLOW_LOOPBACK_SOURCES), inside ALLOWED_SOURCES when set,
 * and the scheme's default port. Other ports are where a public host keeps what it does not serve to the web
 * (admin consoles, databases, mail); refusing them keeps the platform from being a port scanner or a protocol
 * smuggler against third parties. An operator who needs one names it in ALLOWED_SOURCES; a loopback source
 * (tests, local tools) may use any port.
 */
export function checkSourceUrl(raw: string, policy: SourcePolicy): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw badRequest(`url is not a valid URL: ${JSON.stringify(raw.slice(0, 200))}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw badRequest(`url must be http or https, got ${url.protocol.slice(0, -1)}`);
  if (url.username || url.password) throw badRequest("url must not carry credentials (user:password@)");
  const host = classifyHost(url.hostname);
  const allowedLoopback = host.kind === "loopback" && !host.via && policy.allowLoopback;
  if (host.kind !== "public" && !allowedLoopback) {
    throw badRequest(`url host ${describeHost(url.hostname, host)}; only public addresses are fetched`);
  }
  const listed = policy.allowedPrefixes.length > 0;
  if (listed && !policy.allowedPrefixes.some((prefix) => url.href.startsWith(prefix))) {
    throw badRequest("url must start with one of the prefixes in ALLOWED_SOURCES");
  }
  // A listed prefix that matched names the port itself (hrefs carry every non-default port).
  if (url.port !== "" && !allowedLoopback && !listed) {
    throw badRequest(`url must use the default ${url.protocol === "https:" ? "https port 443" : "http port 80"}, got port ${url.port}`);
  }
  return url;
}

/**
 * Fetches an upload's source image: the URL is checked, redirects are followed by hand and re-checked hop by hop,
 * the headers of each hop have SOURCE_HEADERS_TIMEOUT_SECONDS and the whole fetch SOURCE_FETCH_TIMEOUT_SECONDS,
 * and the body is cut at MAX_UPLOAD_BYTES while it streams. Every failure to get an image back answers the same
 * error, so the platform cannot be used to tell open ports, hosts and timeouts apart.
 */
export async function fetchSource(raw: string, config: Config): Promise<SourceImage> {
  const policy = config.sources;
  const first = checkSourceUrl(raw, policy);
  const unreachable = sourceUnreachable(policy);
  const deadline = AbortSignal.timeout(policy.totalTimeoutSeconds * 1000);
  let url = first;
  let response: Response;
  for (let redirects = 0; ; redirects++) {
    try {
      response = await fetchHeaders(url, deadline, policy.headersTimeoutSeconds);
    } catch {
      throw unreachable;
    }
    if (!REDIRECT_STATUSES.has(response.status)) break;
    discard(response);
    const location = response.headers.get("location");
    if (location === null || redirects === MAX_SOURCE_REDIRECTS) throw unreachable;
    try {
      url = checkSourceUrl(new URL(location, url).href, policy);
    } catch {
      throw unreachable;
    }
  }
  if (!response.ok || !response.body) {
    discard(response);
    throw unreachable;
  }
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > config.limits.maxUploadBytes) {
    discard(response);
    throw uploadTooLarge("the image at url", declared, config);
  }
  const body = boundStream(response.body, config.limits.maxUploadBytes, deadline);
  try {
    return { bytes: new Uint8Array(await new Response(body.stream).arrayBuffer()), filename: filenameOf(first) };
  } catch {
    throw body.cut() === "limit" ? uploadTooLarge("the image at url", undefined, config) : unreachable;
  }
}

/** One hop, until its headers arrive. The per-hop timer stops there; the body runs on the total deadline alone. */
async function fetchHeaders(url: URL, deadline: AbortSignal, headersTimeoutSeconds: number): Promise<Response> {
  const headers = new AbortController();
  const timer = setTimeout(() => headers.abort(), headersTimeoutSeconds * 1000);
  try {
    return await fetch(url, { redirect: "manual", signal: AbortSignal.any([deadline, headers.signal]), headers: { accept: "image/*" } });
  } finally {
    clearTimeout(timer);
  }
}

/** The one answer for every fetch that did not bring an image back; it says what a source must do, never what happened. */
function sourceUnreachable(policy: SourcePolicy): ApiError {
  return new ApiError(
    422,
    ErrorCode.unprocessable,
    `could not fetch url: the source must answer 2xx from a public address within ${policy.headersTimeoutSeconds} s, ` +
      `following at most ${MAX_SOURCE_REDIRECTS} redirects, and send the image within ${policy.totalTimeoutSeconds} s`,
  );
}

function discard(response: Response): void {
  response.body?.cancel().catch(() => {});
}

/** The last path segment of the URL the client asked for, as the upload's filename. */
function filenameOf(url: URL): string | undefined {
  const last = url.pathname.split("/").pop() ?? "";
  try {
    return decodeURIComponent(last) || undefined;
  } catch {
    return last || undefined; // a stray % is not worth refusing the upload over
  }
}
