// `npm start`: the whole platform on Miniflare's local R2, D1, Queues and Durable Objects.
// Creates .dev.vars on first run, applies D1 migrations locally, then runs both Workers in one `wrangler dev`.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";

const port = process.env.PORT ?? "8787";
const persistTo = process.env.PERSIST_TO ?? ".wrangler/state";
const env = { ...process.env, WRANGLER_SEND_METRICS: "false" };

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
// Miniflare has no S3 endpoint and no R2 event notifications: the gateway plays both (workers/gateway/local-r2/),
// and presigned URLs point at it.
const localR2 = ["--var", "LOCAL_R2_ENDPOINT:enabled", "--var", `R2_S3_ENDPOINT:http://127.0.0.1:${port}/local-r2`];
const dev = spawn(
  "npx",
  ["wrangler", "dev", "-c", "wrangler.toml", "-c", "workers/processor/wrangler.toml", "--ip", "127.0.0.1", "--port", port, "--persist-to", persistTo, "--test-scheduled", ...localR2, ...extraVars],
  { stdio: "inherit", env },
);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => dev.kill(signal));

// wrangler dev fires no cron triggers: run the gateway's hourly one (the flexible-rendition sweep) ourselves.
const sweep = setInterval(() => fetch(`http://127.0.0.1:${port}/__scheduled?cron=17+*+*+*+*`).catch(() => {}), 60 * 60 * 1000);
sweep.unref();
dev.on("exit", (code) => process.exit(code ?? 0));
