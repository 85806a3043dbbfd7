/**
 * The load client: GETs over raw `node:http` with one keep-alive Agent, bodies read and discarded. Two shapes:
 * `saturate` (N connections, each sending its next request as soon as the last answered, for a fixed time) for
 * requests/s, and `SteadyLoad` (a fixed request rate) for latency while something else happens.
 */
import { Agent, request } from "node:http";

/** One answered (or failed) request: when it was due, how long it took, what came back. */
export interface Sample {
  /** performance.now() when the request was due to be sent. */
  dueAt: number;
  ms: number;
  /** 0 when the connection failed or timed out. */
  status: number;
  bytes: number;
}

export interface LatencySummary {
  count: number;
  /** Responses with a status other than 200 (including failed connections). */
  errors: number;
  p50: number;
  p99: number;
  max: number;
}

export type WindowSummary = LatencySummary & { dropped: number };

const REQUEST_TIMEOUT_MS = 30_000;

/** A keep-alive connection pool for one origin, at most `connections` sockets. */
export function keepAliveAgent(connections: number): Agent {
  return new Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
}

/** GETs `url` and drains the body. Never rejects: a failure (or an abort) is status 0. */
export function get(agent: Agent, url: URL, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve) => {
    const req = request({ agent, hostname: url.hostname, port: url.port, path: url.pathname + url.search, headers, signal }, (res) => {
      let bytes = 0;
      res.on("data", (chunk: Buffer) => (bytes += chunk.length));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, bytes }));
      res.on("error", () => resolve({ status: 0, bytes }));
    });
    req.setTimeout(REQUEST_TIMEOUT_MS, () => req.destroy(new Error("timeout")));
    req.on("error", () => resolve({ status: 0, bytes: 0 }));
    req.end();
  });
}

/** `connections` closed loops against `url` for `durationMs`; requests/s is count / duration. */
export async function saturate(
  agent: Agent,
  url: URL,
  options: { connections: number; durationMs: number; headers?: Record<string, string> },
): Promise<Sample[]> {
  const samples: Sample[] = [];
  const end = performance.now() + options.durationMs;
  const loop = async () => {
    while (performance.now() < end) {
      const dueAt = performance.now();
      const { status, bytes } = await get(agent, url, options.headers);
      samples.push({ dueAt, ms: performance.now() - dueAt, status, bytes });
    }
  };
  await Promise.all(Array.from({ length: options.connections }, loop));
  return samples;
}

/**
 * Requests at a fixed rate until stopped. Latency is measured from when a request was due, not when a socket
 * became free, so a stall shows up in the percentiles instead of silently lowering the rate. At most
 * `maxOutstanding` requests wait at once; beyond that a due request is counted as dropped.
 */
export class SteadyLoad {
  readonly samples: Sample[] = [];
  /** When each dropped request was due. */
  readonly droppedAt: number[] = [];
  private outstanding = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  /** Also ends requests still waiting for a socket, which a request timeout does not cover. */
  private readonly abort = new AbortController();

  private readonly agent: Agent;
  private readonly url: URL;
  private readonly rate: number;
  private readonly headers: Record<string, string>;
  private readonly maxOutstanding: number;

  constructor(agent: Agent, url: URL, options: { rate: number; headers?: Record<string, string>; maxOutstanding?: number }) {
    this.agent = agent;
    this.url = url;
    this.rate = options.rate;
    this.headers = options.headers ?? {};
    this.maxOutstanding = options.maxOutstanding ?? 2048;
  }

  start(): void {
    const started = performance.now();
    let sent = 0;
    const tick = () => {
      const due = Math.floor(((performance.now() - started) / 1000) * this.rate);
      for (; sent < due; sent++) this.send(started + (sent / this.rate) * 1000);
      this.timer = setTimeout(tick, 2);
    };
    tick();
  }

  /** Stops sending, waits up to `graceMs` for what is in flight, then aborts the rest (recorded as status 0). */
  async stop(graceMs = 30_000): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const grace = new Promise((r) => setTimeout(r, graceMs).unref());
    await Promise.race([Promise.all(this.inFlight), grace]);
    this.abort.abort();
    await Promise.all(this.inFlight);
  }

  /** Samples due in [from, to) (performance.now() times). */
  between(from: number, to: number): Sample[] {
    return this.samples.filter((s) => s.dueAt >= from && s.dueAt < to);
  }

  /**
   * Latencies of the requests due in [from, to), and how many were dropped then. A window with drops did not
   * keep up with the rate, so its percentiles understate it.
   */
  window(from: number, to: number): WindowSummary {
    return { ...summarize(this.between(from, to)), dropped: this.droppedAt.filter((t) => t >= from && t < to).length };
  }

  private send(dueAt: number): void {
    if (this.outstanding >= this.maxOutstanding) {
      this.droppedAt.push(dueAt);
      return;
    }
    this.outstanding++;
    const done = get(this.agent, this.url, this.headers, this.abort.signal).then(({ status, bytes }) => {
      this.outstanding--;
      this.samples.push({ dueAt, ms: performance.now() - dueAt, status, bytes });
    });
    this.inFlight.add(done);
    done.finally(() => this.inFlight.delete(done));
  }
}

/** Percentiles of the latencies (nearest rank); errors are counted but their latencies are included. */
export function summarize(samples: Sample[]): LatencySummary {
  const ms = Float64Array.from(samples, (s) => s.ms).sort();
  const at = (p: number) => (ms.length === 0 ? NaN : ms[Math.min(ms.length - 1, Math.ceil(p * ms.length) - 1)]);
  return { count: samples.length, errors: samples.filter((s) => s.status !== 200).length, p50: at(0.5), p99: at(0.99), max: at(1) };
}

/** Nearest-rank percentile of plain numbers (e.g. upload times). */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
}
