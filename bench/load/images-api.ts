/**
 * The parts of the Images API the harness drives: multipart upload, and the status event stream followed until
 * an image is ready or failed (one open stream per image in flight, so waiting costs no polling load).
 */
import type { PlatformCredentials } from "../../scripts/local-platform.ts";
import { parseStatusEvents } from "../../test/fixtures/events.ts";
import type { Bytes } from "./inputs.ts";

/** Where the platform answers, and with which credentials. */
export type Platform = PlatformCredentials & { origin: string };

/** How one upload ended: `stuck` when it was neither ready nor failed by the deadline. */
export type UploadOutcome = "ready" | "failed" | "stuck" | "rejected";

export interface UploadResult {
  id?: string;
  outcome: UploadOutcome;
  /** From the start of the POST until the stream reported `ready` (or `failed`, or the deadline). */
  ms: number;
  /** From the start of the POST until it answered. */
  postMs: number;
  /** The HTTP status or the image's error, for anything that did not end ready. */
  detail?: string;
}

/** A multipart upload form, encoded ahead of time (so that sending many at once costs the client nothing more). */
export interface EncodedForm {
  body: Uint8Array<ArrayBuffer>;
  contentType: string;
}

export async function encodeUploadForm(bytes: Bytes, filename: string): Promise<EncodedForm> {
  const form = new FormData();
  form.append("file", new Blob([bytes], { type: "image/jpeg" }), filename);
  const encoded = new Response(form);
  return { body: new Uint8Array(await encoded.arrayBuffer()), contentType: encoded.headers.get("content-type")! };
}

/**
 * Uploads `bytes` (or a form encoded ahead of time; `filename` then names it in messages only) and follows its
 * events until terminal, or until `deadline` (a Date.now() time) passes.
 */
export async function uploadUntilSettled(platform: Platform, upload: Bytes | EncodedForm, filename: string, deadline: number): Promise<UploadResult> {
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  const signal = AbortSignal.timeout(Math.max(1, deadline - Date.now()));
  let id: string | undefined;
  try {
    const form = "contentType" in upload ? upload : await encodeUploadForm(upload, filename);
    const headers = { ...authorization(platform), "content-type": form.contentType };
    const response = await fetch(`${apiBase(platform)}/v1`, { method: "POST", headers, body: form.body, signal });
    const body = (await response.json()) as { result?: { id: string }; errors?: { message: string }[] };
    const postMs = elapsed();
    if (!response.ok || !body.result) {
      return { outcome: "rejected", ms: postMs, postMs, detail: `${response.status} ${body.errors?.[0]?.message ?? ""}`.trim() };
    }
    id = body.result.id;
    const events = await fetch(`${apiBase(platform)}/v1/${id}/events`, { headers: authorization(platform), signal });
    // The stream ends at a terminal state, so the whole body is the image's history up to ready or failed.
    const last = parseStatusEvents(await events.text()).at(-1);
    if (last?.status === "ready") return { id, outcome: "ready", ms: elapsed(), postMs };
    if (last?.status === "failed") return { id, outcome: "failed", ms: elapsed(), postMs, detail: last.error };
    return { id, outcome: "stuck", ms: elapsed(), postMs, detail: `stream ended at ${last?.status ?? "nothing"}` };
  } catch (error) {
    if (!signal.aborted) throw error;
    return { id, outcome: "stuck", ms: elapsed(), postMs: NaN, detail: "deadline passed" };
  }
}

/** Runs `count` uploads, at most `concurrency` in flight (each slot held until its image settles). */
export async function uploadMany(
  platform: Platform,
  bytes: Bytes,
  options: { count: number; concurrency: number; deadline: number; label: string },
): Promise<UploadResult[]> {
  const results: UploadResult[] = [];
  let next = 0;
  const slot = async () => {
    while (next < options.count) {
      const n = next++;
      if (Date.now() >= options.deadline) {
        results.push({ outcome: "stuck", ms: NaN, postMs: NaN, detail: "not started before the deadline" });
        continue;
      }
      results.push(await uploadUntilSettled(platform, bytes, `${options.label}-${n}.jpg`, options.deadline));
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency, options.count) }, slot));
  return results;
}

export function apiBase(platform: Platform): string {
  return `${platform.origin}/client/v4/accounts/${platform.accountId}/images`;
}

export function authorization(platform: Platform): Record<string, string> {
  return { authorization: `Bearer ${platform.apiToken}` };
}

export function deliveryUrl(platform: Platform, imageId: string, variant: string): URL {
  return new URL(`${platform.origin}/cdn-cgi/imagedelivery/${platform.accountHash}/${imageId}/${variant}`);
}
