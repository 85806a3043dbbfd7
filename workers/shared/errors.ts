import { CodecError } from "../../wasm/src/errors.ts";

/**
 * The platform's one error type: an HTTP status, a Cloudflare-style numeric code and a public message.
 * Routes throw it; `errorResponse` renders it in the Cloudflare envelope; the queue consumer reads
 * `permanent` to decide between retry and recording a failure.
 */
export class ApiError extends Error {
  readonly status: number;
  readonly code: number;
  /** Response headers the error carries (e.g. Retry-After). */
  readonly headers?: Record<string, string>;

  constructor(status: number, code: number, message: string, headers?: Record<string, string>) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.headers = headers;
  }

  /** Client errors are permanent: retrying the same request or job cannot succeed. */
  get permanent(): boolean {
    return this.status < 500;
  }
}

/** Cloudflare Images error codes we answer with (the 5400 range is Images' own; 10000 is API auth). */
export const ErrorCode = {
  authentication: 10000,
  badRequest: 5400,
  notFound: 5404,
  timeout: 5408,
  conflict: 5409,
  gone: 5410,
  tooLarge: 5413,
  unsupportedFormat: 5415,
  unprocessable: 5422,
  forbidden: 5403,
  rateLimited: 5429,
  internal: 5500,
  unavailable: 5503,
} as const;

export const badRequest = (message: string) => new ApiError(400, ErrorCode.badRequest, message);
export const notFound = (message: string) => new ApiError(404, ErrorCode.notFound, message);

/** A client's value as an error message quotes it: JSON-quoted, and cut short so a huge value cannot flood the answer. */
export function quote(value: unknown, max = 80): string {
  const text = typeof value === "string" && value.length > max ? `${value.slice(0, max)}…` : value;
  return JSON.stringify(text) ?? String(text);
}

/** Maps a codec failure onto the status a client sees at upload or delivery. */
export function fromCodecError(error: CodecError): ApiError {
  switch (error.kind) {
    case "unsupported":
      return new ApiError(415, ErrorCode.unsupportedFormat, error.message);
    case "limit":
      return new ApiError(413, ErrorCode.tooLarge, error.message);
    case "corrupt":
      return new ApiError(422, ErrorCode.unprocessable, error.message);
  }
}

export interface Envelope<T> {
  success: boolean;
  errors: { code: number; message: string }[];
  messages: { code: number; message: string }[];
  result: T | null;
}

export function envelope<T>(result: T, extra: Record<string, unknown> = {}): Envelope<T> {
  return { success: true, errors: [], messages: [], result, ...extra };
}

export function errorResponse(error: ApiError, headers: Record<string, string> = {}): Response {
  const body: Envelope<null> = {
    success: false,
    errors: [{ code: error.code, message: error.message }],
    messages: [],
    result: null,
  };
  return Response.json(body, { status: error.status, headers: { ...error.headers, ...headers } });
}

/** A one-line description of any thrown value, for logs and recorded failures. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
