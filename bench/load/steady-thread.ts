/**
 * A SteadyLoad in a worker thread of its own. The harness's main thread also drives the uploads (building forty
 * multipart bodies at once stalled it for 400 ms), and a stall there would delay the delivery requests it sends
 * and be counted as the server's latency. Here the delivery client has an event loop to itself; its own lag is
 * reported with the samples, so a stalled client still shows.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { keepAliveAgent, SteadyLoad, summarize, type Sample, type WindowSummary } from "./http-load.ts";

interface Start {
  url: string;
  rate: number;
  connections: number;
  headers: Record<string, string>;
}

interface Result {
  /** dueAt in epoch milliseconds (performance.timeOrigin + performance.now()), comparable across threads. */
  samples: Sample[];
  droppedAt: number[];
  lagP99Ms: number;
  lagMaxMs: number;
}

if (!isMainThread && parentPort) {
  const { url, rate, connections, headers } = workerData as Start;
  const agent = keepAliveAgent(connections);
  const load = new SteadyLoad(agent, new URL(url), { rate, headers });
  const lag = monitorEventLoopDelay({ resolution: 5 });
  lag.enable();
  load.start();
  parentPort.postMessage("started");
  parentPort.once("message", async () => {
    await load.stop();
    lag.disable();
    agent.destroy();
    const epoch = (t: number) => performance.timeOrigin + t;
    const result: Result = {
      samples: load.samples.map((s) => ({ ...s, dueAt: epoch(s.dueAt) })),
      droppedAt: load.droppedAt.map(epoch),
      lagP99Ms: lag.percentile(99) / 1e6,
      lagMaxMs: lag.max / 1e6,
    };
    parentPort!.postMessage(result);
  });
}

/** Cached delivery at a fixed rate from a worker thread; windows are asked in this thread's performance.now() times. */
export class SteadyLoadThread {
  private readonly worker: Worker;
  private result: Result | undefined;
  private readonly started: Promise<void>;

  constructor(url: URL, options: { rate: number; connections: number; headers?: Record<string, string> }) {
    const start: Start = { url: url.href, rate: options.rate, connections: options.connections, headers: options.headers ?? {} };
    this.worker = new Worker(new URL(import.meta.url), { workerData: start });
    this.started = new Promise((resolve, reject) => {
      this.worker.once("message", () => resolve());
      this.worker.once("error", reject);
    });
  }

  /** Resolves once the thread is sending. */
  start(): Promise<void> {
    return this.started;
  }

  /** Stops sending, waits for what is in flight, and takes the samples back. */
  async stop(): Promise<void> {
    const result = new Promise<Result>((resolve) => this.worker.once("message", resolve));
    this.worker.postMessage("stop");
    this.result = await result;
    await this.worker.terminate();
  }

  /** Latencies of the requests due in [from, to) (this thread's performance.now()), after stop(). */
  window(from: number, to: number): WindowSummary {
    const { samples, droppedAt } = this.stopped();
    const [a, b] = [performance.timeOrigin + from, performance.timeOrigin + to];
    return { ...summarize(samples.filter((s) => s.dueAt >= a && s.dueAt < b)), dropped: droppedAt.filter((t) => t >= a && t < b).length };
  }

  /** The delivery client's own event-loop delay, p99 and max: if near the latencies, the client was slow. */
  clientLag(): { p99Ms: number; maxMs: number } {
    const { lagP99Ms, lagMaxMs } = this.stopped();
    return { p99Ms: lagP99Ms, maxMs: lagMaxMs };
  }

  private stopped(): Result {
    if (!this.result) throw new Error("SteadyLoadThread: stop() first");
    return this.result;
  }
}
