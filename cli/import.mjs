// `edge-images import <dir|file|urls.txt>`: uploads a library with one overall progress bar, follows every image
// to ready or failed, retries what is transient, and writes what failed (and why) as JSON lines. Ids are derived
// from the source (its path, or a hash of its content), so running the same import again with --resume skips
// whatever already arrived, and an interrupted import of 10 000 files can simply be run again.
import { createHash } from "node:crypto";
import { appendFileSync, createReadStream, writeFileSync } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { basename, extname, join, relative, sep } from "node:path";
import { toFile } from "cloudflare";
import cliProgress from "cli-progress";
import { followStatusEvents } from "../console/js/events.js";
import { idPath, isTransient, messageOf, withRetries } from "./api.mjs";
import { CliError, EXIT, usageError } from "./settings.mjs";

export const IMPORT_USAGE = `usage: edge-images import <dir|file|urls.txt> [options]

Uploads every image under <dir> (recursively), one image <file>, or each http(s) URL in a .txt file (one a line;
blank lines and # comments skipped; the platform fetches them), and follows each to ready or failed.

  --concurrency <n>     images in flight at once, each from upload until ready or failed (default 4, at most 64)
  --metadata <k=v>      metadata for every image; repeat for more keys
  --creator <name>      the images' creator
  --id-from <path|hash> path: the file's path under <dir> (or the URL's path), e.g. album/2024/cat.jpg (default);
                        hash: the SHA-256 of the file's bytes (or of the URL), so a duplicate is uploaded once
  --resume              skip ids that are already on the platform (still following those not finished yet)
  --report <file>       write one JSON line per failure: {"source","id","stage","status","error"}
  --retries <n>         tries after a transient error (network, 429, 5xx), with backoff (default 5)

Exit codes: 0 every image ready, 1 some failed, 2 usage, 3 credentials refused, 4 platform unreachable,
130 interrupted (run it again with --resume).`;

const IMAGE_EXTENSIONS = new Set([".jpg", ".jpeg", ".png", ".webp", ".avif", ".gif", ".heic", ".heif", ".svg"]);
const MAX_CONCURRENCY = 64;

/** Parsed `import` flags, checked once here. */
export function parseImportOptions(positionals, flags) {
  if (positionals.length !== 1) throw usageError("import needs exactly one source: a directory, an image file or a .txt file of URLs", IMPORT_USAGE);
  const concurrency = positiveInteger(flags.concurrency ?? "4", "--concurrency");
  if (concurrency > MAX_CONCURRENCY) throw usageError(`--concurrency is at most ${MAX_CONCURRENCY}, got ${concurrency}`);
  const retries = positiveInteger(flags.retries ?? "5", "--retries", 0);
  const idFrom = flags["id-from"] ?? "path";
  if (idFrom !== "path" && idFrom !== "hash") throw usageError(`--id-from must be path or hash, got ${JSON.stringify(idFrom)}`);
  const metadata = {};
  for (const pair of flags.metadata ?? []) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw usageError(`--metadata takes key=value, got ${JSON.stringify(pair)}`);
    metadata[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return { source: positionals[0], concurrency, retries, idFrom, metadata, creator: flags.creator, resume: flags.resume, report: flags.report };
}

function positiveInteger(text, name, min = 1) {
  if (!/^\d+$/.test(text) || Number(text) < min) throw usageError(`${name} must be an integer of at least ${min}, got ${JSON.stringify(text)}`);
  return Number(text);
}

/**
 * What to import: `{ source, id, size, read?, url? }` per image, in a stable order. Files that are not images by
 * their extension are left out and counted, so a folder with a README in it imports cleanly.
 */
export async function listSources(source, idFrom) {
  const info = await stat(source).catch(() => {
    throw usageError(`cannot read ${source}: no such file or directory`);
  });
  if (info.isFile() && extname(source).toLowerCase() === ".txt") return { items: await urlItems(source, idFrom), ignored: [] };
  const files = info.isDirectory() ? await walk(source) : [source];
  const ignored = files.filter((f) => !IMAGE_EXTENSIONS.has(extname(f).toLowerCase()));
  const items = [];
  // One file at a time: a library of 10 000 files must not open them all at once, nor hold their bytes.
  for (const file of files.filter((f) => IMAGE_EXTENSIONS.has(extname(f).toLowerCase()))) {
    const rel = info.isDirectory() ? relative(source, file).split(sep).join("/") : basename(file);
    items.push({
      source: file,
      id: idFrom === "hash" ? await fileSha256(file) : rel,
      filename: basename(file),
      size: (await stat(file)).size,
      read: () => readFile(file),
    });
  }
  return { items, ignored };
}

async function fileSha256(file) {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk);
  return hash.digest("hex");
}

async function walk(dir) {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const files = [];
  for (const entry of entries) {
    if (entry.name.startsWith(".")) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await walk(path)));
    else if (entry.isFile()) files.push(path);
  }
  return files;
}

async function urlItems(file, idFrom) {
  const lines = (await readFile(file, "utf8")).split("\n").map((l) => l.trim());
  const items = [];
  for (const [i, line] of lines.entries()) {
    if (line === "" || line.startsWith("#")) continue;
    let url;
    try {
      url = new URL(line);
    } catch {
      throw usageError(`${file}:${i + 1} is not a URL: ${JSON.stringify(line)}`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") throw usageError(`${file}:${i + 1} is not an http(s) URL: ${JSON.stringify(line)}`);
    const path = decodeURIComponent(url.pathname).replace(/^\/+/, "");
    items.push({ source: line, id: idFrom === "hash" || path === "" ? sha256(line) : `${url.hostname}/${path}`, size: 0, url: line });
  }
  return items;
}

const sha256 = (data) => createHash("sha256").update(data).digest("hex");

/**
 * Runs the import. Each image, in one of `concurrency` slots: (with --resume) is it there already? → upload it
 * (retrying transient errors) → follow its events to ready or failed. A slot is held until the image is finished,
 * so an import never queues more work on the platform than it can watch.
 */
export async function runImport(client, settings, options, { signal, out = process.stdout, err = process.stderr } = {}) {
  const listed = await listSources(options.source, options.idFrom);
  const { ignored } = listed;
  // With --id-from hash, identical files share an id: the first one is imported, the others are the same image.
  const seen = new Set();
  const items = listed.items.filter((item) => !seen.has(item.id) && seen.add(item.id));
  const duplicates = listed.items.length - items.length;
  if (options.report) writeFileSync(options.report, "");
  const totals = { ready: 0, failed: 0, skipped: 0, uploaded: 0, bytes: 0 };
  const failures = [];
  const started = Date.now();
  const totalBytes = items.reduce((n, i) => n + i.size, 0);

  const bar = new cliProgress.SingleBar(
    {
      stream: err,
      format: "{bar} {value}/{total} files | {sent}/{totalBytes} | {rate}/s | ETA {eta_formatted} | ready {ready} failed {failed}",
      hideCursor: true,
      etaBuffer: 50,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  const payload = () => ({
    ...totals,
    sent: formatBytes(totals.bytes),
    totalBytes: formatBytes(totalBytes),
    rate: formatBytes(Math.round(totals.bytes / Math.max((Date.now() - started) / 1000, 0.001))),
  });
  bar.start(items.length, 0, payload());

  const fail = (item, stage, error, status) => {
    totals.failed++;
    const failure = { source: item.source, id: item.id, stage, status: status ?? null, error };
    failures.push(failure);
    if (options.report) appendFileSync(options.report, `${JSON.stringify(failure)}\n`);
  };

  const account_id = settings.account;
  async function importOne(item) {
    if (options.resume) {
      let existing;
      try {
        existing = await withRetries(() => client.images.v1.get(item.id, { account_id }, { signal }), options.retries, signal);
      } catch (error) {
        if (signal?.aborted || isFatal(error)) throw error;
        if (error?.status !== 404) return fail(item, "upload", `could not tell whether it is there: ${messageOf(error)}`, error?.status);
      }
      if (existing) {
        totals.skipped++;
        if (existing.status === "ready") return void totals.ready++;
        if (existing.status === "failed") return fail(item, "processing", existing.error ?? "failed", undefined);
        if (existing.status === "draft") return fail(item, "upload", "a direct upload for this id is still open", undefined);
        return follow(item);
      }
    }
    try {
      await withRetries(
        async () =>
          client.images.v1.create(
            {
              account_id,
              id: item.id,
              ...(item.url ? { url: item.url } : { file: await toFile(await item.read(), item.filename) }),
              ...(Object.keys(options.metadata).length > 0 ? { metadata: options.metadata } : {}),
              ...(options.creator ? { creator: options.creator } : {}),
            },
            { signal },
          ),
        options.retries,
        signal,
      );
    } catch (error) {
      if (signal?.aborted || isFatal(error)) throw error;
      const hint = error?.status === 409 && !options.resume ? " (run with --resume to skip images already there)" : "";
      return fail(item, "upload", messageOf(error) + hint, error?.status);
    }
    totals.uploaded++;
    totals.bytes += item.size;
    await follow(item);
  }

  async function follow(item) {
    let last;
    for (let attempt = 0; ; attempt++) {
      try {
        last = await followStatusEvents(`${settings.origin}/client/v4/accounts/${encodeURIComponent(account_id)}/images/v1/${idPath(item.id)}/events`, {
          headers: { authorization: `Bearer ${settings.token}` },
          signal,
        });
        if (last?.status === "ready" || last?.status === "failed") break;
      } catch (error) {
        if (signal?.aborted) throw error;
        if (!isTransient(error) || attempt >= options.retries) return fail(item, "processing", `its status stream broke: ${messageOf(error)}`, error?.status);
      }
      // The stream ended early (a restart, a proxy): look again after a pause.
      if (attempt >= options.retries) return fail(item, "processing", `its status stream kept ending at ${last?.status ?? "no status"}`, undefined);
      await sleep(Math.min(500 * 2 ** attempt, 10_000), signal);
    }
    if (last.status === "ready") totals.ready++;
    else fail(item, "processing", last.error ?? "failed", undefined);
  }

  let next = 0;
  const slot = async () => {
    while (next < items.length && !signal?.aborted) {
      const item = items[next++];
      try {
        await importOne(item);
      } finally {
        bar.increment(1, payload());
      }
    }
  };
  // Every slot is waited for, so that on Ctrl-C the summary counts what the ones in flight got to.
  const slots = await Promise.allSettled(Array.from({ length: Math.min(options.concurrency, items.length) }, slot));
  bar.update(payload());
  bar.stop();
  const broken = slots.find((s) => s.status === "rejected");
  if (broken && !signal?.aborted) throw broken.reason;

  const seconds = (Date.now() - started) / 1000;
  const done = totals.ready + totals.failed;
  out.write(
    (signal?.aborted ? `Interrupted after ${done} of ${items.length} images (run it again with --resume to go on): ` : `Imported ${items.length} ${items.length === 1 ? "image" : "images"} from ${options.source} in ${seconds.toFixed(1)} s: `) +
      `${totals.ready} ready, ${totals.failed} failed; ${totals.uploaded} uploaded (${formatBytes(totals.bytes)})` +
      (options.resume ? `, ${totals.skipped} already there (not uploaded again).\n` : ".\n"),
  );
  if (ignored.length > 0) out.write(`Left out ${ignored.length} ${ignored.length === 1 ? "file that is not an image" : "files that are not images"} by extension: ${ignored.slice(0, 5).map((f) => basename(f)).join(", ")}${ignored.length > 5 ? ", …" : ""}\n`);
  if (duplicates > 0) out.write(`Left out ${duplicates} ${duplicates === 1 ? "file" : "files"} with the same content (the same id) as another.\n`);
  for (const f of failures.slice(0, 20)) out.write(`  failed  ${f.source} (${f.id}) at ${f.stage}: ${f.error}\n`);
  if (failures.length > 20) out.write(`  … and ${failures.length - 20} more\n`);
  if (options.report && failures.length > 0) out.write(`Failures written to ${options.report}.\n`);
  if (signal?.aborted) return EXIT.interrupted;
  return failures.length === 0 ? EXIT.ok : EXIT.failed;
}

/** Errors that end the whole import rather than one image: refused credentials, an unreachable platform (withRetries). */
const isFatal = (error) => error instanceof CliError;

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
  });
}

export function formatBytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
