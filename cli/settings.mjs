// What every `edge-images` command shares: where the platform is and with what credentials, the exit codes, and
// the one error type a command throws to end with a message and a code.
import { existsSync, readFileSync } from "node:fs";

/** Exit codes scripts can rely on (also listed in `edge-images --help`). */
export const EXIT = {
  ok: 0,
  /** Some of the work failed (an import with failures, an image that ended failed, an API refusal). */
  failed: 1,
  usage: 2,
  /** No credentials, or the platform refused them (401/403). */
  auth: 3,
  /** The platform could not be reached. */
  unreachable: 4,
  interrupted: 130,
};

export class CliError extends Error {
  constructor(message, exitCode = EXIT.failed) {
    super(message);
    this.exitCode = exitCode;
  }
}

export const usageError = (message, usage) => new CliError(usage ? `${message}\n\n${usage}` : message, EXIT.usage);

export const SETTINGS_HELP = `Each setting comes from its flag, else the environment, else .dev.vars (written by \`npm start\`):
  --api <origin>      IMAGES_API   the platform's origin (default http://127.0.0.1:8787)
  --token <token>     API_TOKEN    an API token (the bootstrap one, or a scoped one with the scopes the command needs)
  --account <id>      ACCOUNT_ID`;

/** parseArgs options for the settings, shared by every command. */
export const SETTINGS_OPTIONS = {
  api: { type: "string" },
  token: { type: "string" },
  account: { type: "string" },
  help: { type: "boolean", short: "h", default: false },
};

/** Origin, token and account: flag, else environment, else .dev.vars, else the local default. */
export function readSettings(flags, devVarsPath = ".dev.vars") {
  const devVars = readDevVars(devVarsPath);
  const pick = (flag, name) => [flag, process.env[name], devVars[name]].find((v) => v !== undefined && v !== "");
  const origin = (pick(flags.api, "IMAGES_API") ?? "http://127.0.0.1:8787").replace(/\/+$/, "");
  const token = pick(flags.token, "API_TOKEN");
  const account = pick(flags.account, "ACCOUNT_ID");
  if (!token) throw new CliError("no API token: pass --token, set API_TOKEN, or run `npm start` once to create .dev.vars", EXIT.auth);
  if (!account) throw new CliError("no account id: pass --account, set ACCOUNT_ID, or run `npm start` once to create .dev.vars", EXIT.auth);
  return { origin, token, account };
}

function readDevVars(path) {
  if (!existsSync(path)) return {};
  const lines = readFileSync(path, "utf8").split("\n").filter((l) => l.includes("=") && !l.startsWith("#"));
  return Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf("=")).trim(), l.slice(l.indexOf("=") + 1).trim()]));
}
