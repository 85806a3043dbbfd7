// Runs the platform the way `npm start` does, for the e2e suite and the load harness: on a free loopback port,
// with a throwaway state directory, in its own process group so that stopping it also stops wrangler and workerd.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The secrets `npm start` keeps in .dev.vars, as the API and delivery URLs need them. */
export interface PlatformCredentials {
  apiToken: string;
  accountId: string;
  accountHash: string;
}

/** A process group started here: its output so far, and a way to end all of it. */
export interface LocalProcess {
  readonly child: ChildProcess;
  /** The last `chars` characters of its stdout and stderr. */
  output(chars?: number): string;
  /** SIGTERM to the whole group, SIGKILL a second later; safe to call twice. */
  stop(): Promise<void>;
  /** SIGKILL to the whole group at once, as a crash would: nothing gets to clean up. */
  kill(): void;
}

export interface LocalPlatform extends PlatformCredentials {
  origin: string;
  /** The render process `npm start` runs beside the platform (absent with LOCAL_ENGINE=in-process). */
  engine?: { url: string; token: string };
  process: LocalProcess;
  /** Stops the process group and deletes the state directory. */
  stop(): Promise<void>;
}

/**
 * Starts `npm start` on a free port with a fresh PERSIST_TO and waits until /healthz answers 200. `env` adds to
 * its environment (the load harness turns wrangler's per-request log off with it).
 */
export async function startLocalPlatform(
  options: {
    healthTimeoutMs?: number;
    env?: Record<string, string>;
    /** Reuse a port and a state directory (a restart after a crash); the caller then owns the directory. */
    port?: number;
    stateDir?: string;
  } = {},
): Promise<LocalPlatform> {
  const port = options.port ?? (await freePort());
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), "images-platform-"));
  const server = spawnProcessGroup("npm", ["start", "--silent"], { ...options.env, PORT: String(port), PERSIST_TO: stateDir, CI: "true" });
  const removeState = () => {
    if (!options.stateDir) rmSync(stateDir, { recursive: true, force: true });
  };
  process.on("exit", removeState);
  const stop = async () => {
    await server.stop();
    removeState();
    process.off("exit", removeState);
  };
  const origin = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${origin}/healthz`, server, options.healthTimeoutMs ?? 180_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return { origin, process: server, stop, engine: readEngine(options.env?.LOCAL_ENGINE), ...readCredentials() };
}

/**
 * Wrangler and Miniflare otherwise reach the internet on start (the npm update check behind the banner, the
 * `Request.cf` placeholder download); a local run needs neither.
 */
const OFFLINE_WRANGLER_ENV = { WRANGLER_SEND_METRICS: "false", WRANGLER_HIDE_BANNER: "true", CLOUDFLARE_CF_FETCH_ENABLED: "false" };

/** Spawns a command as the leader of a new process group, with its output captured (the last 64 KB). */
export function spawnProcessGroup(command: string, args: string[], env: Record<string, string> = {}): LocalProcess {
  const child = spawn(command, args, {
    env: { ...process.env, ...OFFLINE_WRANGLER_ENV, ...env },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  for (const stream of [child.stdout!, child.stderr!]) {
    stream.on("data", (d) => {
      log = (log + String(d)).slice(-65_536);
    });
  }
  const signalGroup = (signal: NodeJS.Signals) => {
    if (!child.pid) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      // already gone
    }
  };
  // The group does not get the terminal's Ctrl-C (it is detached), so it must not outlive this process however
  // that ends; a caller that handles SIGINT only needs to call process.exit() for this to run.
  const killOnExit = () => signalGroup("SIGKILL");
  process.on("exit", killOnExit);
  let stopping: Promise<void> | undefined;
  return {
    child,
    output: (chars = 4000) => log.slice(-chars),
    kill: () => signalGroup("SIGKILL"),
    stop: () =>
      (stopping ??= (async () => {
        signalGroup("SIGTERM");
        await new Promise((r) => setTimeout(r, 1000));
        signalGroup("SIGKILL");
        process.off("exit", killOnExit);
      })()),
  };
}

/** Polls `url` until it answers 200; fails early when the process exits, with its output in the message. */
export async function waitForHttp(url: string, owner: LocalProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const exited = () => owner.child.exitCode !== null || owner.child.signalCode !== null;
  while (Date.now() < deadline) {
    if (exited()) throw new Error(`\`${owner.child.spawnargs.join(" ")}\` exited before ${url} answered:\n${owner.output()}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
      await response.body?.cancel();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${url} did not answer within ${timeoutMs / 1000} s:\n${owner.output()}`);
}

/** The credentials `npm start` wrote to .dev.vars (in the working directory). */
export function readCredentials(path = ".dev.vars"): PlatformCredentials {
  const vars = readDevVars(path);
  return { apiToken: vars.API_TOKEN, accountId: vars.ACCOUNT_ID, accountHash: vars.ACCOUNT_HASH };
}

/** A .dev.vars file's `KEY=value` (or `KEY="value"`) lines; `#` lines are comments. */
export function readDevVars(path: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of readFileSync(path, "utf8").split("\n")) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*"?([^"]*)"?\s*$/.exec(line);
    if (m && !line.trimStart().startsWith("#")) vars[m[1]] = m[2];
  }
  return vars;
}

/** Where `npm start` said its render process is (workers/processor/.dev.vars, written on each start). */
function readEngine(mode: string | undefined): LocalPlatform["engine"] {
  if (mode === "in-process") return undefined;
  const vars = readDevVars("workers/processor/.dev.vars");
  return vars.ENGINE_URL ? { url: vars.ENGINE_URL, token: vars.ENGINE_TOKEN } : undefined;
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}
