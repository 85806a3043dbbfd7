// The platform's API as the CLI calls it: the official `cloudflare` SDK pointed at the deployment, with retries
// of transient failures done here (so they can be counted and bounded), and errors read for their API message.
import Cloudflare, { APIConnectionError, APIUserAbortError } from "cloudflare";
import { CliError, EXIT } from "./settings.mjs";

/** An SDK client for the deployment; retries are withRetries' job, so the SDK's own are off. */
export function createClient({ origin, token }) {
  return new Cloudflare({ apiToken: token, baseURL: `${origin}/client/v4`, maxRetries: 0, timeout: 5 * 60 * 1000 });
}

/** An image id in a URL path: its `/` subpaths kept, each segment percent-encoded. */
export const idPath = (id) => id.split("/").map(encodeURIComponent).join("/");

/** The API's own message(s) for a failed call, else the error's. */
export function messageOf(error) {
  const messages = (error?.errors ?? []).map((e) => e?.message).filter(Boolean);
  if (messages.length > 0) return messages.join("; ");
  if (error instanceof APIConnectionError) return `the platform did not answer (${error.cause?.message ?? error.message})`;
  return error?.cause?.message ? `${error.message} (${error.cause.message})` : String(error?.message ?? error);
}

/** Worth another try: no answer at all, 408, 429 or a 5xx. A 4xx is the API refusing this request for good. */
export function isTransient(error) {
  if (error instanceof APIUserAbortError || error?.name === "AbortError") return false;
  if (error instanceof APIConnectionError || error instanceof TypeError) return true;
  const status = error?.status;
  return status === 408 || status === 429 || (typeof status === "number" && status >= 500);
}

/**
 * `call()`, tried again after transient errors up to `retries` times with exponential backoff and jitter (or the
 * answer's Retry-After). When the platform stays unreachable the CLI cannot do anything else: that ends it (exit 4);
 * refused credentials end it too (exit 3).
 */
export async function withRetries(call, retries, signal) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (error?.status === 401 || error?.status === 403) throw new CliError(messageOf(error), EXIT.auth);
      if (signal?.aborted || !isTransient(error)) throw error;
      if (attempt >= retries) {
        if (error instanceof APIConnectionError || error instanceof TypeError) throw new CliError(messageOf(error), EXIT.unreachable);
        throw error;
      }
      const retryAfter = Number(error?.headers?.get?.("retry-after"));
      const wait = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : Math.min(250 * 2 ** attempt, 8000) * (0.5 + Math.random());
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}
