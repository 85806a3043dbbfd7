import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { afterEach, beforeEach, expect, vi } from "vitest";
import { probeImage } from "../../wasm/src/probe.ts";
import type { CoordinatorState } from "../../workers/shared/bindings.ts";
import gateway from "../../workers/gateway/index.ts";
import type { ConfigEnv } from "../../workers/shared/config.ts";
import { coordinatorOf } from "../../workers/shared/coordinators.ts";
import { ApiError } from "../../workers/shared/errors.ts";
import type { FixtureName } from "../fixtures/images.ts";

export const API = "https://images.test/client/v4/accounts/test-account/images";
export const DELIVERY = "https://images.test/cdn-cgi/imagedelivery/test-hash";
export const AUTH = { authorization: "Bearer test-token" };

export function fixture(name: FixtureName): Uint8Array {
  return Uint8Array.from(atob(env.FIXTURES[name]), (c) => c.charCodeAt(0));
}

export function api(path: string, init: RequestInit = {}): Promise<Response> {
  return SELF.fetch(`${API}${path}`, { ...init, headers: { ...AUTH, ...(init.headers ?? {}) } });
}

export async function json<T = any>(response: Response, status = 200): Promise<T> {
  const body = (await response.json()) as any;
  expect(response.status, JSON.stringify(body)).toBe(status);
  return body;
}

/** Uploads a fixture with the API, as the SDK does (multipart). */
/** A multipart form with a fixture as its `file` field. */
export function fileForm(name: FixtureName): FormData {
  const form = new FormData();
  form.append("file", new File([fixture(name)], `${name}.bin`));
  return form;
}

export async function upload(name: FixtureName, fields: Record<string, string> = {}): Promise<Response> {
  const form = fileForm(name);
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  return api("/v1", { method: "POST", body: form });
}

export const coordinator = (imageId: string) => coordinatorOf(env, imageId);

/** Waits until the image's coordinator reaches one of the given statuses (the queue runs in the background). */
export async function waitForStatus(imageId: string, statuses: string[], timeoutMs = 45_000): Promise<CoordinatorState> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await coordinator(imageId).snapshot();
    if (statuses.includes(state.status)) return state;
    if (Date.now() > deadline) throw new Error(`image ${imageId} stayed ${state.status}, expected ${statuses.join("|")}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A delivery request, each from its own client address so the per-client render limit does not couple tests;
 * answers the response, its bytes and (when it is an image) its probed header.
 */
export async function deliver(path: string, headers: Record<string, string> = {}) {
  const client = { "cf-connecting-ip": `198.51.100.${Math.floor(Math.random() * 250)}` };
  const response = await SELF.fetch(path.startsWith("http") ? path : `${DELIVERY}/${path}`, { headers: { ...client, ...headers } });
  const bytes = new Uint8Array(await response.arrayBuffer());
  return { response, bytes, header: response.ok && response.status !== 206 ? probeImage(bytes) : undefined };
}

/** Retries an assertion until it holds or the time is up (for work finished in the background). */
export async function eventually(check: () => Promise<void>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

export const jsonBody = (value: unknown) => ({ headers: { "content-type": "application/json" }, body: JSON.stringify(value) });

/** The ApiError a parser throws for bad input (fails the test when it throws nothing or something else). */
export function refusal(action: () => unknown): ApiError {
  try {
    action();
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error("expected the input to be refused, but it was accepted");
}

/**
 * Sends a request through the gateway with some vars (or bindings) changed, as a deployment configured that way
 * would see it.
 */
export async function gatewayWith(vars: Partial<ConfigEnv> | Partial<typeof env>, url: string, init: RequestInit = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await gateway.fetch(new Request(url, init), { ...env, ...vars } as typeof env, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

/**
 * The JSON log lines (workers/shared/log.ts) a test file's tests write, one test at a time: call it at the top of
 * the file; the array it returns is emptied before each test and filled while it runs.
 */
export function captureLogLines(): Record<string, any>[] {
  const lines: Record<string, any>[] = [];
  beforeEach(() => {
    lines.length = 0;
    const capture = (...args: unknown[]) => {
      if (typeof args[0] !== "string" || !args[0].startsWith("{")) return;
      try {
        lines.push(JSON.parse(args[0]));
      } catch {
        // not one of ours
      }
    };
    for (const level of ["log", "warn", "error"] as const) vi.spyOn(console, level).mockImplementation(capture);
  });
  afterEach(() => vi.restoreAllMocks());
  return lines;
}

/**
 * A D1 (and the sessions it opens) that records how it is called: the first word of each statement run alone
 * ("select", "insert", …), and "batch of N" for each batch, in order.
 */
export function recordingD1(d1: D1Database): { d1: D1Database; calls: string[] } {
  const calls: string[] = [];
  const statement = (s: D1PreparedStatement, verb: string): D1PreparedStatement =>
    new Proxy(s, {
      get: (target, name) =>
        name === "bind"
          ? (...values: unknown[]) => statement(target.bind(...values), verb)
          : ["run", "all", "raw", "first"].includes(name as string)
            ? (...args: unknown[]) => (calls.push(verb), (target as any)[name](...args))
            : Reflect.get(target, name),
    });
  const recording = <T extends D1Database | D1DatabaseSession>(target: T): T =>
    new Proxy(target, {
      get(t, name) {
        if (name === "batch") return (statements: D1PreparedStatement[]) => (calls.push(`batch of ${statements.length}`), t.batch(statements));
        if (name === "withSession") return (constraint?: string) => recording((t as D1Database).withSession(constraint));
        if (name === "prepare") return (sql: string) => statement(t.prepare(sql), sql.trimStart().split(/\s/)[0].toLowerCase());
        return (Reflect.get(t, name) as Function).bind(t);
      },
    });
  return { d1: recording(d1), calls };
}
