// The load harness's client, against small node:http servers on 127.0.0.1: what it counts must be what happened.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { keepAliveAgent, percentile, saturate, SteadyLoad, summarize } from "../../bench/load/http-load.ts";
import { uploadMany } from "../../bench/load/images-api.ts";
import { SteadyLoadThread } from "../../bench/load/steady-thread.ts";
import { Worker } from "node:worker_threads";

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers) server.closeAllConnections();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ url: URL; server: Server }> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return { url: new URL(`http://127.0.0.1:${port}/`), server };
}

describe("latency summaries", () => {
  it("reports nearest-rank percentiles and counts every non-200 as an error", () => {
    const samples = Array.from({ length: 100 }, (_, i) => ({ dueAt: i, ms: i + 1, status: i < 3 ? 503 : 200, bytes: 0 }));
    expect(summarize(samples)).toEqual({ count: 100, errors: 3, p50: 50, p99: 99, max: 100 });
    expect(percentile([5, 1, 3], 0.5)).toBe(3);
    expect(percentile([], 0.99)).toBeNaN();
  });
});

describe("saturate", () => {
  it("keeps its connections alive: requests far outnumber the sockets, which never exceed the pool", async () => {
    const sockets = new Set<unknown>();
    const { url } = await serve((req, res) => {
      sockets.add(req.socket);
      res.end("x".repeat(1000));
    });
    const agent = keepAliveAgent(4);
    const samples = await saturate(agent, url, { connections: 4, durationMs: 300 });
    agent.destroy();
    expect(sockets.size).toBeLessThanOrEqual(4);
    expect(samples.length).toBeGreaterThan(sockets.size * 10);
    expect(samples.every((s) => s.status === 200 && s.bytes === 1000)).toBe(true);
  });
});

describe("a steady load", () => {
  it("keeps its rate through a stall and charges the stall to the requests that were due during it", async () => {
    const stallUntil = performance.now() + 400;
    const { url } = await serve((_req, res) => {
      const wait = Math.max(0, stallUntil - performance.now());
      setTimeout(() => res.end("ok"), wait);
    });
    const agent = keepAliveAgent(2);
    const load = new SteadyLoad(agent, url, { rate: 100 });
    const from = performance.now();
    load.start();
    await new Promise((r) => setTimeout(r, 1000));
    await load.stop();
    agent.destroy();
    // ≈100 requests in a second although the server answered nothing for the first 0.4 s.
    expect(load.samples.length).toBeGreaterThanOrEqual(90);
    // The first request was due at the start and answered after the stall: its latency is the stall's length.
    const first = load.between(from, from + 20)[0];
    expect(first.ms).toBeGreaterThan(350);
    // Two connections and a 400 ms stall would hide the stall in ≈2 slow samples if time were counted per socket.
    expect(load.samples.filter((s) => s.ms > 200).length).toBeGreaterThan(15);
  });

  it("counts requests beyond its bound on outstanding ones as dropped instead of piling them up", async () => {
    const { url } = await serve(() => {}); // never answers
    const agent = keepAliveAgent(2);
    const load = new SteadyLoad(agent, url, { rate: 200, maxOutstanding: 10 });
    const from = performance.now();
    load.start();
    await new Promise((r) => setTimeout(r, 300));
    await load.stop(100);
    agent.destroy();
    expect(load.window(from, performance.now()).dropped).toBeGreaterThan(20);
    expect(load.samples.length).toBe(10);
    expect(load.samples.every((s) => s.status === 0)).toBe(true);
  });
});

describe("a steady load in a thread of its own", () => {
  it("is not delayed by a stall of the thread that started it, and says when its own loop lagged", async () => {
    // The server runs in another thread too: this one is about to stop for 300 ms.
    const server = new Worker(
      `const { createServer } = require("node:http"); const { parentPort } = require("node:worker_threads");
       const s = createServer((req, res) => res.end("ok")); s.listen(0, "127.0.0.1", () => parentPort.postMessage(s.address().port));`,
      { eval: true },
    );
    const port = await new Promise<number>((resolve) => server.once("message", resolve));
    try {
      const url = new URL(`http://127.0.0.1:${port}/`);
      const load = new SteadyLoadThread(url, { rate: 100, connections: 2 });
      await load.start();
      await new Promise((r) => setTimeout(r, 200));
      const stallFrom = performance.now();
      while (performance.now() < stallFrom + 300); // this thread stalls; the load's does not
      const stallTo = performance.now();
      await new Promise((r) => setTimeout(r, 200));
      await load.stop();
      const during = load.window(stallFrom, stallTo);
      expect(during.count).toBeGreaterThanOrEqual(25);
      expect(during.errors).toBe(0);
      expect(during.p99).toBeLessThan(100);
      expect(load.clientLag().maxMs).toBeLessThan(100);
      // Windows are in this thread's clock: one before the load started is empty.
      expect(load.window(stallFrom - 10_000, stallFrom - 5_000).count).toBe(0);
    } finally {
      await server.terminate();
    }
  });
});

describe("uploads", () => {
  it("counts an image whose event stream has not ended by the deadline as stuck, and one that never started too", async () => {
    let n = 0;
    const { url } = await serve((req, res) => {
      if (req.method === "POST") {
        req.resume();
        req.on("end", () => res.end(JSON.stringify({ success: true, result: { id: `img${n++}` } })));
        return;
      }
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write(`data: ${JSON.stringify({ id: "x", status: "queued", attempts: 0, updatedAt: "" })}\n\n`);
      if (req.url!.includes("/img0/")) res.end(`data: ${JSON.stringify({ id: "img0", status: "ready", attempts: 1, updatedAt: "" })}\n\n`);
      else if (req.url!.includes("/img1/")) res.end(`data: ${JSON.stringify({ id: "img1", status: "failed", error: "will not decode", attempts: 1, updatedAt: "" })}\n\n`);
      // any other image stays queued: the stream stays open
    });
    const platform = { origin: url.origin, apiToken: "t", accountId: "a", accountHash: "h" };
    const started = Date.now();
    const results = await uploadMany(platform, new Uint8Array(100), { count: 5, concurrency: 2, deadline: Date.now() + 500, label: "t" });
    expect(Date.now() - started).toBeLessThan(2000);
    const byOutcome = (o: string) => results.filter((r) => r.outcome === o);
    expect(byOutcome("ready")).toHaveLength(1);
    expect(byOutcome("failed")).toMatchObject([{ id: "img1", detail: "will not decode" }]);
    // Each slot's second upload stays queued until the deadline; the fifth is never sent.
    expect(byOutcome("stuck").map((r) => r.detail).sort()).toEqual(["deadline passed", "deadline passed", "not started before the deadline"]);
  });
});
