// Global setup of the e2e suite: starts the platform exactly as `npm start` does, on a free port with a
// throwaway state directory, waits for /healthz, and hands the tests its URL and credentials.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** `pid` is the `npm start` process; the platform's workerd runs among its descendants. */
    platform: { origin: string; apiToken: string; accountId: string; accountHash: string; pid: number };
  }
}

let child: ChildProcess | undefined;
let stateDir: string | undefined;

export async function setup(project: TestProject): Promise<void> {
  const port = await freePort();
  stateDir = mkdtempSync(join(tmpdir(), "images-e2e-"));
  const log: string[] = [];
  child = spawn("npm", ["start", "--silent"], {
    env: { ...process.env, PORT: String(port), PERSIST_TO: stateDir, CI: "true" },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  for (const stream of [child.stdout!, child.stderr!]) stream.on("data", (d) => log.push(String(d)));
  const origin = `http://127.0.0.1:${port}`;
  try {
    await waitForHealth(origin, 180_000, () => child?.exitCode !== null);
  } catch (error) {
    console.error(log.join("").slice(-4000));
    throw error;
  }
  const vars = Object.fromEntries(
    readFileSync(".dev.vars", "utf8")
      .split("\n")
      .filter((l) => l.includes("="))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
  project.provide("platform", { origin, apiToken: vars.API_TOKEN, accountId: vars.ACCOUNT_ID, accountHash: vars.ACCOUNT_HASH, pid: child.pid! });
}

export async function teardown(): Promise<void> {
  if (child?.pid) {
    try {
      process.kill(-child.pid, "SIGTERM");
    } catch {
      // already gone
    }
    await new Promise((r) => setTimeout(r, 1000));
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
}

async function waitForHealth(origin: string, timeoutMs: number, exited: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited()) throw new Error("`npm start` exited before the platform became healthy");
    try {
      const response = await fetch(`${origin}/healthz`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`the platform did not answer /healthz within ${timeoutMs / 1000} s`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}
