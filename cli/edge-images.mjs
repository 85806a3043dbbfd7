#!/usr/bin/env node
// `npx edge-images <command>`: the platform from the terminal, on the official `cloudflare` SDK. Each command
// parses its own flags (node:util parseArgs, strict), and ends with one of the documented exit codes.
import { parseArgs } from "node:util";
import { followStatusEvents } from "../console/js/events.js";
import { parseDuration, signUrl } from "../console/js/signing.js";
import { createClient, idPath, messageOf, withRetries } from "./api.mjs";
import { main as tokens } from "./images.mjs";
import { IMPORT_USAGE, parseImportOptions, runImport } from "./import.mjs";
import { CliError, EXIT, SETTINGS_HELP, SETTINGS_OPTIONS, readSettings, usageError } from "./settings.mjs";

const USAGE = `usage: edge-images <command> [options]

  import <dir|file|urls.txt>   upload a library with one progress bar, following each image to ready or failed
  watch <id>                   follow an image's status until it is ready or failed
  ls                           list images, newest first
  rm <id>...                   delete images
  variants <list|get|create|update|delete>   named variants
  sign <url>                   sign a delivery URL with one of the account's signing keys
  tokens <create|list|get|revoke>            scoped API tokens (with the bootstrap token)

\`edge-images <command> --help\` describes a command.

${SETTINGS_HELP}

Exit codes: 0 done, 1 something failed (an image, or the API refused the request), 2 usage,
3 no credentials or refused (401/403), 4 platform unreachable, 130 interrupted.
`;

const WATCH_USAGE = `usage: edge-images watch <id>

Prints each status change of the image (queued, processing, ready, failed with its reason) until it is ready or
failed. Exit 0 when ready, 1 when failed.

${SETTINGS_HELP}`;

const LS_USAGE = `usage: edge-images ls [--creator <name>] [--meta <field[op]=value> ...] [--limit <n>] [--json]

  --creator <name>   only images with this creator ("" for none)
  --meta <filter>    a metadata filter: album=holiday, or with an operator: priority[gte:number]=2 (up to 5)
  --limit <n>        at most n images (default 100), paged with the continuation token
  --json             one image object per line

${SETTINGS_HELP}`;

const RM_USAGE = `usage: edge-images rm <id>...

Deletes each image (its original, renditions and cached copies). Exit 1 if any could not be deleted.

${SETTINGS_HELP}`;

const VARIANTS_USAGE = `usage: edge-images variants <command>

  variants list [--json]
  variants get <name>
  variants create <name> --fit <fit> --width <px> --height <px> [--metadata keep|copyright|none] [--never-require-signed-urls]
  variants update <name> [--fit ...] [--width ...] [--height ...] [--metadata ...] [--[no-]never-require-signed-urls]
  variants delete <name>

fit: scale-down, contain, cover, crop or pad (the API checks every value and names what it refuses).

${SETTINGS_HELP}`;

const SIGN_USAGE = `usage: edge-images sign <url> [--expires <duration>] [--key <name>]

Prints <url> signed for images with requireSignedURLs: sig = HMAC-SHA256 of its path and query under a signing key
of the account (needs the keys:write scope, which can read keys).

  --expires <duration>   90s, 15m, 1h (default), 7d, 2w; "never" for no expiry
  --key <name>           the signing key (default: "default")

${SETTINGS_HELP}`;

const COMMANDS = {
  import: {
    usage: IMPORT_USAGE,
    options: {
      concurrency: { type: "string" },
      metadata: { type: "string", multiple: true },
      creator: { type: "string" },
      "id-from": { type: "string" },
      resume: { type: "boolean", default: false },
      report: { type: "string" },
      retries: { type: "string" },
    },
    run: async (settings, positionals, flags) => {
      const options = parseImportOptions(positionals, flags);
      const abort = new AbortController();
      // Ctrl-C: stop, print what was done, and exit 130; --resume carries on from there.
      process.once("SIGINT", () => abort.abort());
      process.once("SIGTERM", () => abort.abort());
      return runImport(createClient(settings), settings, options, { signal: abort.signal });
    },
  },
  watch: {
    usage: WATCH_USAGE,
    options: {},
    run: async (settings, positionals) => {
      const id = exactlyOne(positionals, "watch needs exactly one image id", WATCH_USAGE);
      const url = `${settings.origin}/client/v4/accounts/${encodeURIComponent(settings.account)}/images/v1/${idPath(id)}/events`;
      const last = await withRetries(
        () =>
          followStatusEvents(url, {
            headers: { authorization: `Bearer ${settings.token}` },
            onStatus: (e) => process.stdout.write(`${e.updatedAt}  ${e.status}${e.error ? `  ${e.error}` : ""}\n`),
          }),
        3,
      ).catch((error) => {
        throw error instanceof CliError ? error : new CliError(messageOf(error));
      });
      return last?.status === "ready" ? EXIT.ok : EXIT.failed;
    },
  },
  ls: {
    usage: LS_USAGE,
    options: { creator: { type: "string" }, meta: { type: "string", multiple: true }, limit: { type: "string" }, json: { type: "boolean", default: false } },
    run: async (settings, positionals, flags) => {
      if (positionals.length > 0) throw usageError("ls takes no arguments", LS_USAGE);
      const limit = flags.limit === undefined ? 100 : Number(flags.limit);
      if (!Number.isInteger(limit) || limit < 1) throw usageError(`--limit must be a positive integer, got ${JSON.stringify(flags.limit)}`);
      const meta = Object.fromEntries(
        (flags.meta ?? []).map((filter) => {
          const m = /^([^=[]+)(\[[a-z:]+\])?=(.*)$/.exec(filter);
          if (!m) throw usageError(`--meta takes field=value or field[op]=value, got ${JSON.stringify(filter)}`, LS_USAGE);
          return [`${m[1]}${m[2] ?? "[eq]"}`, m[3]];
        }),
      );
      const client = createClient(settings);
      const images = [];
      let continuation_token;
      do {
        const page = await call(() =>
          client.images.v2.list({
            account_id: settings.account,
            per_page: Math.max(10, Math.min(1000, limit - images.length)),
            ...(continuation_token ? { continuation_token } : {}),
            ...(flags.creator !== undefined ? { creator: flags.creator } : {}),
            ...(Object.keys(meta).length > 0 ? { meta } : {}),
          }),
        );
        images.push(...(page.images ?? []));
        continuation_token = page.continuation_token;
      } while (continuation_token && images.length < limit);
      const shown = images.slice(0, limit);
      if (flags.json) for (const image of shown) process.stdout.write(`${JSON.stringify(image)}\n`);
      else if (shown.length === 0) process.stdout.write("No images.\n");
      else printTable(["ID", "STATUS", "UPLOADED", "FILENAME", "CREATOR"], shown.map((i) => [i.id, i.status, i.uploaded, i.filename ?? "", i.creator ?? ""]));
      return EXIT.ok;
    },
  },
  rm: {
    usage: RM_USAGE,
    options: {},
    run: async (settings, positionals) => {
      if (positionals.length === 0) throw usageError("rm needs at least one image id", RM_USAGE);
      const client = createClient(settings);
      let failed = 0;
      for (const id of positionals) {
        try {
          await withRetries(() => client.images.v1.delete(id, { account_id: settings.account }), 3);
          process.stdout.write(`deleted ${id}\n`);
        } catch (error) {
          if (error instanceof CliError) throw error;
          failed++;
          process.stderr.write(`error: ${id}: ${messageOf(error)}\n`);
        }
      }
      return failed === 0 ? EXIT.ok : EXIT.failed;
    },
  },
  variants: {
    usage: VARIANTS_USAGE,
    options: {
      fit: { type: "string" },
      width: { type: "string" },
      height: { type: "string" },
      metadata: { type: "string" },
      "never-require-signed-urls": { type: "boolean" },
      json: { type: "boolean", default: false },
    },
    run: async (settings, positionals, flags) => {
      const [action, name, ...extra] = positionals;
      const client = createClient(settings);
      const account_id = settings.account;
      const needName = () => {
        if (!name || extra.length > 0) throw usageError(`variants ${action} needs exactly one variant name`, VARIANTS_USAGE);
        return name;
      };
      const options = () => ({
        ...(flags.fit !== undefined ? { fit: flags.fit } : {}),
        ...(flags.width !== undefined ? { width: number(flags.width, "--width") } : {}),
        ...(flags.height !== undefined ? { height: number(flags.height, "--height") } : {}),
        ...(flags.metadata !== undefined ? { metadata: flags.metadata } : {}),
      });
      const never = flags["never-require-signed-urls"];
      const neverRequire = never === undefined ? {} : { neverRequireSignedURLs: never };
      const print = (variant) => printTable(["NAME", "FIT", "WIDTH", "HEIGHT", "METADATA", "NEVER SIGNED"], [variant].flat().map((v) => [v.id, v.options.fit, v.options.width, v.options.height, v.options.metadata, String(v.neverRequireSignedURLs ?? false)]));
      switch (action) {
        case "list":
        case undefined: {
          const { variants } = await call(() => client.images.v1.variants.list({ account_id }));
          const list = Object.values(variants ?? {});
          if (flags.json) process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
          else print(list);
          return EXIT.ok;
        }
        case "get":
          print((await call(() => client.images.v1.variants.get(needName(), { account_id }))).variant);
          return EXIT.ok;
        case "create":
          print((await call(() => client.images.v1.variants.create({ account_id, id: needName(), options: { metadata: "none", ...options() }, ...neverRequire }))).variant);
          return EXIT.ok;
        case "update":
          print((await call(() => client.images.v1.variants.edit(needName(), { account_id, options: options(), ...neverRequire }))).variant);
          return EXIT.ok;
        case "delete":
          await call(() => client.images.v1.variants.delete(needName(), { account_id }));
          process.stdout.write(`deleted variant ${name}\n`);
          return EXIT.ok;
        default:
          throw usageError(`unknown variants command ${JSON.stringify(action)}`, VARIANTS_USAGE);
      }
    },
  },
  sign: {
    usage: SIGN_USAGE,
    options: { expires: { type: "string" }, key: { type: "string" } },
    run: async (settings, positionals, flags) => {
      const raw = exactlyOne(positionals, "sign needs exactly one delivery URL", SIGN_USAGE);
      let url;
      try {
        url = new URL(raw);
      } catch {
        throw usageError(`not a URL: ${JSON.stringify(raw)}`, SIGN_USAGE);
      }
      const expires = flags.expires ?? "1h";
      const seconds = expires === "never" ? undefined : parseDuration(expires);
      if (expires !== "never" && seconds === undefined) throw usageError(`--expires must be like 90s, 15m, 1h, 7d, 2w or never, got ${JSON.stringify(expires)}`);
      const keyName = flags.key ?? "default";
      const { keys } = await call(() => createClient(settings).images.v1.keys.list({ account_id: settings.account }));
      const key = (keys ?? []).find((k) => k.name === keyName);
      if (!key) throw new CliError(`no signing key named ${JSON.stringify(keyName)}; the account has ${(keys ?? []).map((k) => k.name).join(", ")}`);
      process.stdout.write(`${await signUrl(url, key.value, seconds === undefined ? undefined : Date.now() + seconds * 1000)}\n`);
      return EXIT.ok;
    },
  },
};

/** An SDK call with transient retries; a refusal becomes a CliError with the API's message. */
async function call(fn) {
  try {
    return await withRetries(fn, 3);
  } catch (error) {
    throw error instanceof CliError ? error : new CliError(`${messageOf(error)}${error?.status ? ` (HTTP ${error.status})` : ""}`);
  }
}

function exactlyOne(positionals, message, usage) {
  if (positionals.length !== 1) throw usageError(message, usage);
  return positionals[0];
}

function number(text, name) {
  if (!/^\d+$/.test(text)) throw usageError(`${name} must be a whole number of pixels, got ${JSON.stringify(text)}`);
  return Number(text);
}

function printTable(titles, rows) {
  const all = [titles, ...rows.map((r) => r.map(String))];
  const widths = titles.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  for (const row of all) process.stdout.write(`${row.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd()}\n`);
}

async function main(argv) {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(USAGE);
    return EXIT.ok;
  }
  if (name === "tokens") {
    await tokens(argv);
    return EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) throw usageError(`unknown command ${JSON.stringify(name)}`, USAGE);
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: { ...SETTINGS_OPTIONS, ...command.options }, allowPositionals: true, allowNegative: true, strict: true });
  } catch (error) {
    throw usageError(error.message, command.usage);
  }
  if (parsed.values.help) {
    process.stdout.write(`${command.usage}\n`);
    return EXIT.ok;
  }
  return command.run(readSettings(parsed.values), parsed.positionals, parsed.values);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`error: ${error instanceof CliError ? error.message : (error?.stack ?? String(error))}\n`);
    process.exit(error instanceof CliError ? error.exitCode : 1);
  },
);
