// `npm start`: the whole platform on Miniflare's local R2, D1, Queues and Durable Objects.
// Creates .dev.vars on first run, applies D1 migrations locally, then runs both Workers in one `wrangler dev`, and
// the render engine in a second one (LOCAL_ENGINE=in-process keeps renders in the first).
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { freePort } from "./local-platform.ts";

const port = process.env.PORT ?? "8787";
const persistTo = process.env.PERSIST_TO ?? ".wrangler/state";
// X_LOCAL_OBSERVABILITY: wrangler's local trace collector records every span of every request into SQLite, on the
// thread that also serves deliveries (under the load harness's upload spike it was the busiest Worker there). Our
// own JSON log lines carry what it would show; X_LOCAL_OBSERVABILITY=true brings it back for the local explorer.
const env = { ...process.env, WRANGLER_SEND_METRICS: "false", X_LOCAL_OBSERVABILITY: process.env.X_LOCAL_OBSERVABILITY ?? "false" };

if (!existsSync(".dev.vars")) {
  const token = randomBytes(24).toString("base64url");
  const vars = {
    API_TOKEN: token,
    ACCOUNT_ID: randomBytes(16).toString("hex"),
    ACCOUNT_HASH: randomBytes(16).toString("base64url").slice(0, 22),
  };
  writeFileSync(".dev.vars", Object.entries(vars).map(([k, v]) => `${k}=${v}`).join("\n") + "\n", { mode: 0o600 });
  console.log(`Created .dev.vars with a new API token (shown once):\n\n  API_TOKEN=${token}\n  ACCOUNT_ID=${vars.ACCOUNT_ID}\n`);
} else {
  const accountId = /^ACCOUNT_ID=(.*)$/m.exec(readFileSync(".dev.vars", "utf8"))?.[1];
  console.log(`Using .dev.vars (account ${accountId}); the API token is in that file.`);
}

// R2 API credentials for presigned direct-to-R2 uploads, checked by the local S3 endpoint (the gateway's
// /local-r2, on only here); added to a .dev.vars written before they existed, too.
const devVars = readFileSync(".dev.vars", "utf8");
if (!/^R2_ACCESS_KEY_ID=/m.test(devVars)) {
  const r2 = { R2_ACCESS_KEY_ID: randomBytes(16).toString("hex"), R2_SECRET_ACCESS_KEY: randomBytes(32).toString("hex") };
  appendFileSync(".dev.vars", (devVars.endsWith("\n") || devVars === "" ? "" : "\n") + Object.entries(r2).map(([k, v]) => `${k}=${v}`).join("\n") + "\n");
  console.log("Added local R2 API credentials (R2_ACCESS_KEY_ID, R2_SECRET_ACCESS_KEY) to .dev.vars.");
}

const wrangler = (args, options = {}) => spawnSync("npx", ["wrangler", ...args], { stdio: "inherit", env, ...options });

// CI=true makes wrangler apply without asking for confirmation at a terminal.
const migrate = wrangler(["d1", "migrations", "apply", "DB", "--local", "--persist-to", persistTo], { env: { ...env, CI: "true" } });
if (migrate.status !== 0) process.exit(migrate.status ?? 1);

// EXTRA_VARS="NAME:value NAME2:value" overrides wrangler.toml vars for this run (tests that need e.g. a loopback
// webhook receiver turn ALLOW_LOOPBACK_SOURCES on this way; nothing else does).
const extraVars = (process.env.EXTRA_VARS ?? "").split(/\s+/).filter(Boolean).flatMap((v) => ["--var", v]);

// Renders run in a workerd process of their own (workers/engine-local/), as on Cloudflare they run in isolates of
// their own: one local workerd runs every Worker on one thread, where a render would stall every delivery.
// The processor learns where it is from workers/processor/.dev.vars, written on every run (wrangler reads a second
// config's variables only from its own directory, and reads them once, at start). Two platforms started at the
// same moment from one checkout may share one render process, which is harmless: it is stateless, and when it is
// gone the processor renders in place.
const children = [];
if (process.env.LOCAL_ENGINE !== "in-process") {
  const [enginePort, inspectorPort] = [await freePort(), await freePort()];
  const token = randomBytes(24).toString("base64url");
  const processorVars = `# Written by \`npm start\` on every run: the local render process (workers/engine-local/).\nENGINE_URL=http://127.0.0.1:${enginePort}\nENGINE_TOKEN=${token}\n`;
  writeFileSync("workers/processor/.dev.vars", processorVars, { mode: 0o600 });
  children.push(
    spawn(
      "npx",
      ["wrangler", "dev", "-c", "workers/engine-local/wrangler.toml", "--ip", "127.0.0.1", "--port", String(enginePort), "--inspector-port", String(inspectorPort), "--var", `ENGINE_TOKEN:${token}`],
      { stdio: "inherit", env },
    ),
  );
} else {
  rmSync("workers/processor/.dev.vars", { force: true });
}
// Miniflare has no S3 endpoint and no R2 event notifications: the gateway plays both (workers/gateway/local-r2/),
// and presigned URLs point at it.
const localR2 = ["--var", "LOCAL_R2_ENDPOINT:enabled", "--var", `R2_S3_ENDPOINT:http://127.0.0.1:${port}/local-r2`];
// INSPECTOR_PORT: where DevTools (or a CPU profiler) attaches to the platform's Workers; wrangler picks one otherwise.
const inspector = process.env.INSPECTOR_PORT ? ["--inspector-port", process.env.INSPECTOR_PORT] : [];
children.push(
  spawn(
    "npx",
    ["wrangler", "dev", "-c", "wrangler.toml", "-c", "workers/processor/wrangler.toml", "--ip", "127.0.0.1", "--port", port, "--persist-to", persistTo, "--test-scheduled", ...inspector, ...localR2, ...extraVars],
    { stdio: "inherit", env },
  ),
);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => children.forEach((child) => child.kill(signal)));

// wrangler dev fires no cron triggers: run the gateway's hourly one (the flexible-rendition sweep) ourselves.
const sweep = setInterval(() => fetch(`http://127.0.0.1:${port}/__scheduled?cron=17+*+*+*+*`).catch(() => {}), 60 * 60 * 1000);
sweep.unref();
// Either process ending ends the platform.
for (const child of children) {
  child.on("exit", (code) => {
    for (const other of children) if (other !== child) other.kill("SIGTERM");
    process.exit(code ?? 0);
  });
}
