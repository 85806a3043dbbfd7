// The render engine in a process of its own, for local development only.
//
// One workerd process runs every Worker, Durable Object and storage emulator of `wrangler dev` on one thread, so a
// render there stalls every delivery for as long as it runs (a 24 MP decode: hundreds of milliseconds). On
// Cloudflare that cannot happen: the processor's renders run in their own isolates, never on a gateway's thread.
// To keep that property locally, `npm start` runs a second workerd (workers/engine-local/) that does nothing but
// render, and tells the processor where it is with ENGINE_URL and ENGINE_TOKEN. Deployed Workers never have
// ENGINE_URL, and render in place.
//
// The wire format is one frame each way: a 4-byte big-endian length, that many bytes of JSON, then the bytes the
// JSON describes (the original in a request, the outputs one after another in an answer).
import { CodecError, type CodecErrorKind } from "../../../wasm/src/errors.ts";
import { constantTimeEqual } from "../../shared/crypto.ts";
import { describeError } from "../../shared/errors.ts";
import type { OutputRequest, RenderedRendition, RenderFacts } from "../../shared/render.ts";
import type { SourceStream } from "../../../wasm/src/source-stream.ts";
import type { Placeholder } from "../../../wasm/src/placeholder.ts";
import type { RenderSettings, SourceFacts } from "./render.ts";

export interface EngineProcess {
  url: string;
  token: string;
  /** How a call reaches it; `fetch` unless a test hands the call to serveRenderCall directly. */
  send?: (request: Request) => Promise<Response>;
}

export interface EngineProcessEnv {
  /** Set by `npm start` only: the local render process's origin. */
  ENGINE_URL?: string;
  /** Set by `npm start` only: a per-run secret the render process requires. */
  ENGINE_TOKEN?: string;
}

interface RenderCall {
  settings: RenderSettings;
  source: SourceFacts;
  requests: OutputRequest[];
  /** The caller wants the image's placeholder too. */
  placeholder?: boolean;
}

interface RenderAnswer {
  outputs: (Omit<RenderedRendition, "bytes"> & { length: number })[];
  /** What the engine reported (decoder, scale, peak memory), for the caller's log line and data point. */
  facts?: RenderFacts;
  placeholder?: Placeholder;
}

type RenderRefusal = { kind: CodecErrorKind; message: string } | { kind: "error"; message: string };

/** The largest request the render process reads: the biggest original an upload path accepts, with room. */
const MAX_CALL_BYTES = 160 * 1024 * 1024;
/** A render that takes longer than this is abandoned as a transient failure (the job is retried). */
const CALL_TIMEOUT_MS = 120_000;

/** The local render process, when `npm start` runs one. */
export function engineProcess(env: EngineProcessEnv): EngineProcess | undefined {
  if (!env.ENGINE_URL) return undefined;
  if (!env.ENGINE_TOKEN) throw new Error("configuration: ENGINE_URL is set without ENGINE_TOKEN");
  return { url: env.ENGINE_URL.replace(/\/+$/, ""), token: env.ENGINE_TOKEN };
}

/** The render process could not be reached at all (not started yet, or gone): the caller renders in place. */
export class EngineUnreachable extends Error {
  override name = "EngineUnreachable";
}

/**
 * Renders in the local render process. A codec failure there comes back as the same CodecError; a failure to
 * connect is EngineUnreachable; anything else is an Error, which callers treat as transient.
 */
export async function renderInEngineProcess(
  engine: EngineProcess,
  settings: RenderSettings,
  original: Uint8Array | SourceStream,
  source: SourceFacts,
  requests: OutputRequest[],
  observe?: (facts: RenderFacts) => void,
  placeholder?: (placeholder: Placeholder) => void,
): Promise<RenderedRendition[]> {
  const call: RenderCall = { settings, source, requests, ...(placeholder ? { placeholder: true } : {}) };
  let response: Response;
  try {
    // A streamed original is passed through as it arrives from storage: this side never holds it whole.
    const { body, length } = original instanceof Uint8Array ? framed(call, [original]) : framedStream(call, original);
    const request = new Request(`${engine.url}/render`, {
      method: "POST",
      headers: { authorization: `Bearer ${engine.token}`, "content-type": "application/octet-stream", "content-length": String(length) },
      body,
      signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
    });
    response = await (engine.send ?? fetch)(request);
  } catch (error) {
    if (error instanceof Error && error.name === "TimeoutError") throw new Error(`the render process did not answer within ${CALL_TIMEOUT_MS} ms`);
    throw new EngineUnreachable(`the render process at ${engine.url} is unreachable: ${describeError(error)}`);
  }
  const body = new Uint8Array(await response.arrayBuffer());
  if (!response.ok) {
    const refusal = parseRefusal(body);
    if (refusal.kind === "error") throw new Error(`the render process failed: ${refusal.message}`);
    throw new CodecError(refusal.kind, refusal.message);
  }
  const { header, rest } = unframe<RenderAnswer>(body);
  if (header.facts) observe?.(header.facts);
  if (header.placeholder) placeholder?.(header.placeholder);
  let offset = 0;
  return header.outputs.map(({ length, ...output }) => {
    const bytes = rest.slice(offset, offset + length);
    offset += length;
    return { ...output, bytes };
  });
}

/** Whether the request carries this run's ENGINE_TOKEN as its bearer token (no token configured: nobody does). */
export async function holdsEngineToken(request: Request, token: string | undefined): Promise<boolean> {
  const presented = /^Bearer (.+)$/.exec(request.headers.get("authorization") ?? "")?.[1];
  return !!token && !!presented && (await constantTimeEqual(presented, token));
}

/** The render process's side: checks the caller's token, renders with `render`, answers one frame. */
export async function serveRenderCall(
  request: Request,
  token: string | undefined,
  render: (
    settings: RenderSettings,
    original: SourceStream,
    source: SourceFacts,
    requests: OutputRequest[],
    observe: (facts: RenderFacts) => void,
    placeholder?: (placeholder: Placeholder) => void,
  ) => Promise<RenderedRendition[]>,
): Promise<Response> {
  if (new URL(request.url).pathname !== "/render" || request.method !== "POST") return new Response("not found", { status: 404 });
  if (!(await holdsEngineToken(request, token))) return refuse(401, { kind: "error", message: "missing or wrong ENGINE_TOKEN" });
  const length = Number(request.headers.get("content-length") ?? NaN);
  if (!Number.isSafeInteger(length)) return refuse(411, { kind: "error", message: "a render call needs a Content-Length" });
  if (length > MAX_CALL_BYTES) return refuse(413, { kind: "error", message: `a render call is at most ${MAX_CALL_BYTES} bytes, this one ${length}` });
  let outputs: RenderedRendition[];
  let facts: RenderFacts | undefined;
  let placeholder: Placeholder | undefined;
  try {
    // The original is read by the engine straight from the request (held once, where its decoder reads it).
    const { header, rest } = await unframeStream<RenderCall>(request.body ?? new Blob([]).stream(), length);
    outputs = await render(header.settings, rest, header.source, header.requests, (f) => (facts = f), header.placeholder ? (p) => (placeholder = p) : undefined);
  } catch (error) {
    if (error instanceof CodecError) return refuse(422, { kind: error.kind, message: error.message });
    return refuse(500, { kind: "error", message: describeError(error) });
  }
  const answer: RenderAnswer = { outputs: outputs.map(({ bytes, ...output }) => ({ ...output, length: bytes.length })), facts, placeholder };
  return new Response(frame(answer, outputs.map((o) => o.bytes)), { headers: { "content-type": "application/octet-stream" } });
}

function refuse(status: number, refusal: RenderRefusal): Response {
  return Response.json(refusal, { status });
}

function parseRefusal(body: Uint8Array): RenderRefusal {
  try {
    const parsed = JSON.parse(new TextDecoder().decode(body)) as Partial<RenderRefusal>;
    const kinds = ["unsupported", "corrupt", "limit", "error"];
    if (typeof parsed.message === "string" && kinds.includes(parsed.kind as string)) return parsed as RenderRefusal;
  } catch {
    // not JSON: described below
  }
  return { kind: "error", message: `an answer that is not a render refusal (${body.length} bytes)` };
}

function frame(header: unknown, parts: Uint8Array[]): Blob {
  return new Blob([frameHead(header), ...parts]);
}

function framed(header: unknown, parts: Uint8Array[]): { body: Blob; length: number } {
  const body = frame(header, parts);
  return { body, length: body.size };
}

/** The frame's 4-byte length and JSON. */
function frameHead(header: unknown): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const head = new Uint8Array(4 + json.length);
  new DataView(head.buffer).setUint32(0, json.length);
  head.set(json, 4);
  return head;
}

/**
 * A frame whose one part is a stream of known length (an R2 object's body), sent as it is read. The head is
 * written into a FixedLengthStream (so the call has a Content-Length), then the part is piped after it by the
 * runtime itself, without JavaScript per chunk. The stream holds no queue: each write waits for its read.
 */
function framedStream(header: unknown, part: SourceStream): { body: ReadableStream<Uint8Array>; length: number } {
  const head = frameHead(header);
  const length = head.length + part.byteLength;
  const { readable, writable } = new FixedLengthStream(length);
  void (async () => {
    const writer = writable.getWriter();
    try {
      await writer.write(head);
    } catch (error) {
      await part.stream.cancel(error).catch(() => {});
      return;
    }
    writer.releaseLock();
    await part.stream.pipeTo(writable);
  })().catch(() => {});
  return { body: readable, length };
}

/** Reads a frame's header from the stream and hands on the rest, `total` bytes in all, as a stream of its own. */
async function unframeStream<T>(stream: ReadableStream<Uint8Array>, total: number): Promise<{ header: T; rest: SourceStream }> {
  const reader = stream.getReader();
  let pending = new Uint8Array(0);
  const readAtLeast = async (n: number) => {
    while (pending.length < n) {
      const { done, value } = await reader.read();
      if (done) throw new Error("a render frame ends inside its header");
      const joined = new Uint8Array(pending.length + value.length);
      joined.set(pending);
      joined.set(value, pending.length);
      pending = joined;
    }
  };
  await readAtLeast(4);
  const length = new DataView(pending.buffer, pending.byteOffset, 4).getUint32(0);
  if (4 + length > total) throw new Error("a render frame's header runs past its end");
  await readAtLeast(4 + length);
  const header = JSON.parse(new TextDecoder().decode(pending.subarray(4, 4 + length))) as T;
  let first: Uint8Array | undefined = pending.subarray(4 + length);
  const rest = new ReadableStream<Uint8Array>({
    pull: async (controller) => {
      if (first) {
        const chunk = first;
        first = undefined;
        if (chunk.length > 0) return controller.enqueue(chunk);
      }
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return { header, rest: { byteLength: total - 4 - length, stream: rest } };
}

function unframe<T>(body: Uint8Array): { header: T; rest: Uint8Array } {
  if (body.length < 4) throw new Error("a render frame needs at least 4 bytes");
  const length = new DataView(body.buffer, body.byteOffset, body.byteLength).getUint32(0);
  if (4 + length > body.length) throw new Error("a render frame's header runs past its end");
  const header = JSON.parse(new TextDecoder().decode(body.subarray(4, 4 + length))) as T;
  return { header, rest: body.subarray(4 + length) };
}
