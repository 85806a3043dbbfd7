#!/usr/bin/env node
// `edge-images tokens ...` (or `npm run cli -- tokens ...`): manages a deployment's scoped API tokens over its API
// (our extension, /client/v4/accounts/:account_id/tokens). Dependency-free, so it runs anywhere Node 22 does. Scope
// names and every other rule are the API's: this script passes them on and prints the API's own error messages.
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { CliError, EXIT, readSettings } from "./settings.mjs";

const USAGE = `usage: edge-images tokens <command> [options]   (or: npm run cli -- tokens ...)

  tokens create --name <name> --scopes <scope,...> [--expires-on <RFC 3339 date-time>]
                      prints the new token's value, which is shown only once
  tokens list
  tokens get <id>
  tokens revoke <id>

Each setting comes from its flag, else the environment, else .dev.vars (written by \`npm start\`):
  --api <origin>      IMAGES_API   the platform's origin (default http://127.0.0.1:8787)
  --token <token>     API_TOKEN    the bootstrap admin token; scoped tokens cannot manage tokens
  --account <id>      ACCOUNT_ID
  --json              print the API's result as JSON

Exit codes: 0 done, 1 the API refused, 2 usage, 3 no credentials or refused (401/403), 4 platform unreachable.
`;

const OPTIONS = {
  api: { type: "string" },
  token: { type: "string" },
  account: { type: "string" },
  name: { type: "string" },
  scopes: { type: "string" },
  "expires-on": { type: "string" },
  json: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
};

/** `tokens <command> ...` (argv starts with "tokens"). */
export async function main(argv) {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
  } catch (error) {
    throw new CliError(`${error.message}\n\n${USAGE}`, EXIT.usage);
  }
  const { values: flags, positionals } = parsed;
  const [group, command, ...rest] = positionals;
  if (flags.help || positionals.length === 0) {
    process.stdout.write(USAGE);
    return;
  }
  if (group !== "tokens") throw new CliError(`unknown command ${JSON.stringify(group)}\n\n${USAGE}`, EXIT.usage);
  const api = client(readSettings(flags));

  switch (command) {
    case "create": {
      if (!flags.name) throw new CliError("tokens create needs --name <name>", EXIT.usage);
      if (!flags.scopes) throw new CliError("tokens create needs --scopes <scope,...> (e.g. --scopes images:read,images:write)", EXIT.usage);
      const scopes = flags.scopes.split(",").map((s) => s.trim()).filter(Boolean);
      const body = { name: flags.name, scopes, ...(flags["expires-on"] ? { expires_on: flags["expires-on"] } : {}) };
      const token = await api("POST", "", body);
      if (flags.json) return printJson(token);
      // Details on stderr and the value alone on stdout, so `VALUE=$(npm run --silent cli -- tokens create ...)` works.
      process.stderr.write(`Created token ${token.id} (${token.name}): ${token.scopes.join(", ")}, expires ${token.expires_on ?? "never"}.\n`);
      process.stderr.write("Its value is shown only now; store it as a secret:\n");
      process.stdout.write(`${token.value}\n`);
      return;
    }
    case "list": {
      const tokens = await api("GET", "");
      if (flags.json) return printJson(tokens);
      if (tokens.length === 0) process.stdout.write("No tokens.\n");
      else printTable(tokens);
      return;
    }
    case "get": {
      const token = await api("GET", `/${encodeURIComponent(requireId(rest, "get"))}`);
      if (flags.json) return printJson(token);
      printTable([token]);
      return;
    }
    case "revoke": {
      const result = await api("DELETE", `/${encodeURIComponent(requireId(rest, "revoke"))}`);
      if (flags.json) return printJson(result);
      process.stdout.write(`Revoked token ${result.id}: requests with it now get 401.\n`);
      return;
    }
    default:
      throw new CliError(`unknown tokens command ${JSON.stringify(command ?? "")}\n\n${USAGE}`, EXIT.usage);
  }
}

/** A caller of the tokens API that answers the envelope's `result`, or throws the API's error messages. */
function client({ origin, token, account }) {
  const base = `${origin}/client/v4/accounts/${encodeURIComponent(account)}/tokens`;
  return async (method, path, body) => {
    let response;
    try {
      response = await fetch(base + path, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
    } catch (error) {
      throw new CliError(`cannot reach ${origin} (${error.cause?.message ?? error.message}); is the platform running (npm start)?`, EXIT.unreachable);
    }
    const text = await response.text();
    let envelope;
    try {
      envelope = JSON.parse(text);
    } catch {
      throw new CliError(`${method} ${base + path} answered HTTP ${response.status} without a JSON body: ${text.slice(0, 200)}`);
    }
    if (!response.ok || !envelope.success) {
      const messages = (envelope.errors ?? []).map((e) => e.message).join("; ");
      const code = response.status === 401 || response.status === 403 ? EXIT.auth : EXIT.failed;
      throw new CliError(`${messages || "the request failed"} (HTTP ${response.status})`, code);
    }
    return envelope.result;
  };
}

function requireId(rest, command) {
  if (rest.length !== 1) throw new CliError(`tokens ${command} needs exactly one token id (see \`tokens list\`)`, EXIT.usage);
  return rest[0];
}

function printJson(value) {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

function printTable(tokens) {
  const columns = [
    ["ID", (t) => t.id],
    ["NAME", (t) => t.name],
    ["STATUS", (t) => t.status],
    ["SCOPES", (t) => t.scopes.join(",")],
    ["CREATED", (t) => t.created_on],
    ["EXPIRES", (t) => t.expires_on ?? "never"],
    ["LAST USED", (t) => t.last_used_on ?? "never"],
  ];
  const rows = [columns.map(([title]) => title), ...tokens.map((t) => columns.map(([, cell]) => String(cell(t))))];
  const widths = columns.map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const row of rows) process.stdout.write(`${row.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd()}\n`);
}

if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((error) => {
    process.stderr.write(`error: ${error instanceof CliError ? error.message : (error?.stack ?? String(error))}\n`);
    process.exit(error instanceof CliError ? error.exitCode : 1);
  });
}
