import type { Config } from "../shared/config.ts";
import { ApiError, ErrorCode, badRequest } from "../shared/errors.ts";

/** What a JSON or small form body of the management API may weigh: image edits, variant definitions, direct-upload fields. */
const SMALL_BODY_LIMIT_BYTES = 64 * 1024;
/** Multipart framing and the form's other fields, on top of MAX_UPLOAD_BYTES for the file. */
const UPLOAD_FORM_ALLOWANCE_BYTES = 64 * 1024;

/** How many bytes a route reads from a request body, and how the limit is named when a client goes over it. */
interface BodyBudget {
  maxBytes: number;
  /** Completes "the limit is …", e.g. "64 KiB for a JSON body". */
  description: string;
}

function uploadBudget(config: Config): BodyBudget {
  const maxBytes = config.limits.maxUploadBytes + UPLOAD_FORM_ALLOWANCE_BYTES;
  return {
    maxBytes,
    description: `${formatBytes(maxBytes)} for an upload (${formatBytes(config.limits.maxUploadBytes)} for the file, MAX_UPLOAD_BYTES, plus ${formatBytes(UPLOAD_FORM_ALLOWANCE_BYTES)} for the form)`,
  };
}

const smallBudget = (kind: "JSON" | "form"): BodyBudget => ({
  maxBytes: SMALL_BODY_LIMIT_BYTES,
  description: `${formatBytes(SMALL_BODY_LIMIT_BYTES)} for a ${kind} body`,
});

/** Reads an upload's multipart (or urlencoded) form, at most MAX_UPLOAD_BYTES plus the form allowance. */
export function readUploadForm(request: Request, config: Config): Promise<FormData> {
  return readForm(request, uploadBudget(config), config);
}

/** Reads a form of text fields (direct-upload creation), at most 64 KiB. */
export function readFieldsForm(request: Request, config: Config): Promise<FormData> {
  return readForm(request, smallBudget("form"), config);
}

/** Reads a JSON object body, at most 64 KiB. */
export async function readJsonObject(request: Request, config: Config): Promise<Record<string, unknown>> {
  const body = boundedBody(request, smallBudget("JSON"), config);
  let text: string;
  try {
    text = await body.read(new Response(body.stream).text());
  } catch {
    throw body.failure() ?? badRequest("the request body could not be read");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw badRequest("expected a JSON object body");
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) throw badRequest("expected a JSON object body");
  return value as Record<string, unknown>;
}

async function readForm(request: Request, budget: BodyBudget, config: Config): Promise<FormData> {
  const type = request.headers.get("content-type") ?? "";
  if (!/^multipart\/form-data|^application\/x-www-form-urlencoded/i.test(type)) {
    throw badRequest(`expected a multipart/form-data body, got ${JSON.stringify(type || "no content type")}`);
  }
  const body = boundedBody(request, budget, config);
  try {
    // The runtime's own parser, fed from the bounded stream: it can never see more than the budget.
    return await body.read(new Response(body.stream, { headers: { "content-type": type } }).formData());
  } catch {
    throw body.failure() ?? badRequest("the multipart body could not be parsed");
  }
}

interface BoundedBody {
  stream: ReadableStream<Uint8Array>;
  /** Why reading the stream failed, when the bound was the reason. */
  failure(): ApiError | undefined;
  /** `reading` (of `stream`), or a rejection once the body's deadline has passed. */
  read<T>(reading: Promise<T>): Promise<T>;
}

/**
 * A request body that cannot outgrow its budget or its deadline. A declared length over the budget is refused
 * before a byte is read; a body within it is piped natively and must match its length; a body without a length
 * (chunked) is counted as it streams.
 */
function boundedBody(request: Request, budget: BodyBudget, config: Config): BoundedBody {
  const header = request.headers.get("content-length");
  const declared = header !== null && /^[0-9]+$/.test(header) ? Number(header) : undefined;
  if (declared !== undefined && declared > budget.maxBytes) throw bodyTooLarge(budget, declared);
  if (!request.body) return { stream: new ReadableStream({ start: (controller) => controller.close() }), failure: () => undefined, read: (p) => p };
  const seconds = config.bodyTimeoutSeconds;
  const deadline = AbortSignal.timeout(seconds * 1000);
  const bounded = declared === undefined ? boundStream(request.body, budget.maxBytes, deadline) : boundDeclaredStream(request.body, declared, deadline);
  return {
    stream: bounded.stream,
    failure() {
      const cut = bounded.cut();
      if (cut === "limit") return bodyTooLarge(budget);
      if (cut === "deadline") {
        return new ApiError(408, ErrorCode.timeout, `the request body did not arrive within ${seconds} s (UPLOAD_BODY_TIMEOUT_SECONDS)`);
      }
      return undefined;
    },
    // Whatever the stream does when the deadline passes, the read gives up then (the pipe ends with the request).
    read: <T>(reading: Promise<T>) =>
      Promise.race([reading, new Promise<never>((_, reject) => deadline.addEventListener("abort", () => reject(deadline.reason), { once: true }))]),
  };
}

/**
 * Tells the runtime a request body will not be read, for a request refused before its body: the connection is
 * closed after the answer instead of the whole upload being taken in and thrown away first (`wrangler dev` holds
 * the answer to a request with an untouched body until that body has ended, however long that is).
 */
export function refuseBody(request: Request): void {
  request.body?.cancel().catch(() => {});
}

function bodyTooLarge(budget: BodyBudget, declared?: number): ApiError {
  const size = declared === undefined ? "request body is larger than the limit of" : `request body is ${formatBytes(declared)}; the limit is`;
  return new ApiError(413, ErrorCode.tooLarge, `${size} ${budget.description}`);
}

/** The 413 for a file (uploaded or fetched) over MAX_UPLOAD_BYTES; `size` is unknown when it was cut off while streaming. */
export function uploadTooLarge(what: string, size: number | undefined, config: Config): ApiError {
  const limit = `${formatBytes(config.limits.maxUploadBytes)} (MAX_UPLOAD_BYTES)`;
  const message = size === undefined ? `${what} is larger than the upload limit of ${limit}` : `${what} is ${formatBytes(size)}; the upload limit is ${limit}`;
  return new ApiError(413, ErrorCode.tooLarge, message);
}

function formatBytes(n: number): string {
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** Why a bounded stream stopped early. */
export type StreamCut = "limit" | "deadline";

export interface BoundedStream {
  readonly stream: ReadableStream<Uint8Array>;
  /** Why the stream was cut short, once it was; undefined while it flows or after it ended by itself. */
  cut(): StreamCut | undefined;
}

/**
 * A body of declared length (within its limit), cut at `deadline`. It passes through a FixedLengthStream, which
 * fails it if it ends short or runs long, by a pipe the runtime runs itself: no JavaScript per chunk, which for a
 * 4 MB upload cost twice what parsing its form does.
 */
export function boundDeclaredStream(source: ReadableStream<Uint8Array>, length: number, deadline: AbortSignal): BoundedStream {
  const sized = new FixedLengthStream(length);
  source.pipeTo(sized.writable, { signal: deadline }).catch(() => {});
  return { stream: sized.readable, cut: () => (deadline.aborted ? "deadline" : undefined) };
}

/**
 * Passes `source` through until it ends, errors at the first chunk past `maxBytes`, or errors when `deadline`
 * aborts; either way the source is cancelled, so the sender is not read any further. Pull-based with no queue of
 * its own: it holds at most one chunk, and only when its consumer asked for it.
 */
export function boundStream(source: ReadableStream<Uint8Array>, maxBytes: number, deadline: AbortSignal): BoundedStream {
  const reader = source.getReader();
  let cut: StreamCut | undefined;
  let received = 0;
  let onDeadline = () => {};
  const stop = (why: StreamCut, controller: ReadableStreamDefaultController<Uint8Array>) => {
    if (cut) return;
    cut = why;
    deadline.removeEventListener("abort", onDeadline);
    controller.error(new Error(`stream cut off: ${why}`));
    reader.cancel(why).catch(() => {});
  };
  const stream = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        onDeadline = () => stop("deadline", controller);
        if (deadline.aborted) onDeadline();
        else deadline.addEventListener("abort", onDeadline, { once: true });
      },
      async pull(controller) {
        const { done, value } = await reader.read();
        if (cut) return;
        if (done) {
          deadline.removeEventListener("abort", onDeadline);
          controller.close();
          return;
        }
        received += value.byteLength;
        if (received > maxBytes) stop("limit", controller);
        else controller.enqueue(value);
      },
      cancel(reason) {
        deadline.removeEventListener("abort", onDeadline);
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, cut: () => cut };
}
