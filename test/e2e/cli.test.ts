// `edge-images` (cli/edge-images.mjs) against the platform as `npm start` runs it.
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import Cloudflare from "cloudflare";
import sharp from "sharp";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { makeFixtures } from "../fixtures/images.ts";

const { origin, apiToken, accountId } = inject("platform");
const account_id = accountId;
const client = new Cloudflare({ apiToken, baseURL: `${origin}/client/v4`, maxRetries: 0 });
const CLI = resolve("cli/edge-images.mjs");
const settings = { IMAGES_API: origin, API_TOKEN: apiToken, ACCOUNT_ID: accountId };

/** Runs the CLI to its end; never rejects. `cwd` defaults to a directory without .dev.vars. */
function cli(args: string[], env: Record<string, string | undefined> = settings, cwd = tmpdir()) {
  const merged = { ...process.env, API_TOKEN: undefined, ACCOUNT_ID: undefined, IMAGES_API: undefined, ...env };
  return new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
    execFile(process.execPath, [CLI, ...args], { env: merged, cwd, timeout: 90_000 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

async function imagesBy(creator: string) {
  const { images } = await client.images.v2.list({ account_id, creator, per_page: 100 });
  return images ?? [];
}

const run = Date.now().toString(36);
const creator = `cli-e2e-${run}`;
let library: string;
const PHOTOS = 10;

beforeAll(async () => {
  const fixtures = await makeFixtures();
  library = mkdtempSync(join(tmpdir(), "cli-import-"));
  // Ids come from paths under the library: a per-run folder keeps them apart from other runs on this platform.
  const root = join(library, run);
  mkdirSync(join(root, "2024", "summer"), { recursive: true });
  for (let i = 0; i < PHOTOS; i++) {
    const noise = Buffer.alloc(900 * 600 * 3);
    for (let k = 0; k < noise.length; k++) noise[k] = (k * 7 + i * 31 + ((k * k) % 251)) & 255;
    writeFileSync(join(root, "2024", `photo-${i}.jpg`), await sharp(noise, { raw: { width: 900, height: 600, channels: 3 } }).jpeg().toBuffer());
  }
  writeFileSync(join(root, "disc.png"), fixtures.alphaPng);
  writeFileSync(join(root, "2024", "summer", "beach.webp"), fixtures.lossyWebp);
  writeFileSync(join(root, "2024", "summer", "cat.gif"), fixtures.animatedGif);
  // Broken in two ways: one passes the upload check but cannot be decoded, one is refused at upload.
  writeFileSync(join(root, "2024", "summer", "broken.jpg"), fixtures.corruptJpeg);
  writeFileSync(join(root, "not-really.png"), fixtures.textFile);
  writeFileSync(join(root, "README.md"), "not an image, and not named like one\n");
});

describe("edge-images import", () => {
  const total = PHOTOS + 5; // images by extension, the two broken ones included

  it("imports a folder, is killed part-way, and on --resume finishes without uploading anything twice", async () => {
    const first = spawn(process.execPath, [CLI, "import", library, "--concurrency", "1", "--creator", creator, "--metadata", "album=cli"], {
      env: { ...process.env, ...settings },
      cwd: tmpdir(),
      stdio: "ignore",
    });
    const exited = new Promise((r) => first.on("exit", r));
    // Part-way: some images there, not all.
    const deadline = Date.now() + 60_000;
    while ((await imagesBy(creator)).length < 3) {
      expect(Date.now(), "the first import made no progress").toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 100));
    }
    first.kill("SIGKILL");
    await exited;
    // An upload whose body had all arrived may still be finishing on the platform: let it land before looking.
    await new Promise((r) => setTimeout(r, 1000));
    const before = await imagesBy(creator);
    expect(before.length).toBeGreaterThanOrEqual(3);
    expect(before.length).toBeLessThan(total - 1);

    const report = join(library, "..", `report-${run}.jsonl`);
    const resumed = await cli(["import", library, "--resume", "--concurrency", "3", "--creator", creator, "--metadata", "album=cli", "--report", report]);
    expect(resumed.code, resumed.stderr).toBe(1); // some failed
    const summary = /(\d+) ready, (\d+) failed; (\d+) uploaded \([^)]*\), (\d+) already there/.exec(resumed.stdout);
    expect(summary, resumed.stdout).not.toBeNull();
    const [ready, failed, uploaded, already] = summary!.slice(1).map(Number);
    expect({ ready, failed }).toEqual({ ready: total - 2, failed: 2 });
    // What the first run stored is skipped and the rest is uploaded, except the file refused at upload: it was never
    // stored, so it is tried again and refused again.
    expect(already).toBe(before.length);
    expect(uploaded + already).toBe(total - 1);
    expect(resumed.stdout).toContain("broken.jpg");
    expect(resumed.stdout).toContain("not-really.png");
    expect(resumed.stdout).toMatch(/Left out 1 file that is not an image by extension: README\.md/);

    const lines = readFileSync(report, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(lines.map((l) => l.id).sort()).toEqual([`${run}/2024/summer/broken.jpg`, `${run}/not-really.png`]);
    const byId = Object.fromEntries(lines.map((l) => [l.id, l]));
    expect(byId[`${run}/2024/summer/broken.jpg`]).toMatchObject({ stage: "processing", error: expect.stringMatching(/JPEG/i) });
    expect(byId[`${run}/not-really.png`]).toMatchObject({ stage: "upload", status: 415 });
    expect(lines.some((l) => l.status === 409)).toBe(false);

    // One image per file, each uploaded once: the ones from the first run kept their upload time.
    const after = await imagesBy(creator);
    expect(after.map((i) => i.id).sort()).toEqual([...new Set(after.map((i) => i.id))].sort());
    expect(after.length).toBe(total - 1); // everything but the file refused at upload
    const uploadedAt = Object.fromEntries(after.map((i) => [i.id, i.uploaded]));
    for (const image of before) expect(uploadedAt[image.id!], image.id).toBe(image.uploaded);
    expect(after.every((i) => (i.meta as Record<string, string>)?.album === "cli")).toBe(true);

    // Run again: nothing left to upload.
    const again = await cli(["import", library, "--resume", "--creator", creator]);
    expect(again.stdout).toContain(`0 uploaded (0 B), ${total - 1} already there`);
  });

  it("with --id-from hash imports identical files once, under the SHA-256 of their bytes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cli-hash-"));
    const bytes = await sharp({ create: { width: 64, height: 48, channels: 3, background: { r: 9, g: 99, b: Date.now() % 255 } } }).png().toBuffer();
    writeFileSync(join(dir, "a.png"), bytes);
    writeFileSync(join(dir, "copy of a.png"), bytes);
    const imported = await cli(["import", dir, "--id-from", "hash", "--creator", `${creator}-hash`]);
    expect(imported.code, imported.stdout + imported.stderr).toBe(0);
    expect(imported.stdout).toContain("1 ready, 0 failed; 1 uploaded");
    expect(imported.stdout).toContain("Left out 1 file with the same content (the same id) as another.");
    const [image, ...others] = await imagesBy(`${creator}-hash`);
    expect(others).toEqual([]);
    expect(image.id).toBe(createHash("sha256").update(bytes).digest("hex"));
  });

  it("imports a list of URLs by asking the platform to fetch each, and reports what it refuses", async () => {
    const list = join(mkdtempSync(join(tmpdir(), "cli-urls-")), "urls.txt");
    // This platform refuses loopback sources (ALLOW_LOOPBACK_SOURCES is off), which is what this checks it is told.
    writeFileSync(list, "# sources\n\nhttp://127.0.0.1:9/holiday/cat.jpg\n");
    const report = `${list}.report.jsonl`;
    const imported = await cli(["import", list, "--report", report]);
    expect(imported.code).toBe(1);
    const [line] = readFileSync(report, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(line).toMatchObject({ source: "http://127.0.0.1:9/holiday/cat.jpg", id: "127.0.0.1/holiday/cat.jpg", stage: "upload", status: 400 });
    expect(line.error).toMatch(/loopback/i);
    expect((await cli(["import", join(list, "..", "missing.txt")])).code).toBe(2);
  });

  it("retries a 503, a 429 and a dropped connection with backoff, and does not retry a 4xx", async () => {
    // A stand-in for the platform on loopback: the upload fails transiently three times, then succeeds; a second
    // image is refused with 415 once and for all.
    const uploads: string[] = [];
    let failures = 0;
    const server = createServer((request, response) => {
      const url = new URL(request.url!, "http://x");
      request.resume();
      request.on("end", () => {
        if (request.method === "POST" && url.pathname === "/client/v4/accounts/acct/images/v1") {
          const contentLength = Number(request.headers["content-length"]);
          uploads.push(String(contentLength));
          if (contentLength < 300) {
            response.writeHead(415, { "content-type": "application/json" });
            return response.end(JSON.stringify({ success: false, errors: [{ code: 5415, message: "unsupported image format" }], messages: [], result: null }));
          }
          const attempt = failures++;
          if (attempt === 0) return response.writeHead(503).end("{}");
          if (attempt === 1) return response.writeHead(429, { "retry-after": "1" }).end("{}");
          if (attempt === 2) return request.socket.destroy();
          response.writeHead(200, { "content-type": "application/json" });
          return response.end(JSON.stringify({ success: true, errors: [], messages: [], result: { id: "x", status: "queued" } }));
        }
        if (url.pathname.endsWith("/events")) {
          response.writeHead(200, { "content-type": "text/event-stream" });
          return response.end(`event: status\ndata: ${JSON.stringify({ id: "x", status: "ready", attempts: 1, updatedAt: "now" })}\n\n`);
        }
        response.writeHead(404).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const dir = mkdtempSync(join(tmpdir(), "cli-retry-"));
    writeFileSync(join(dir, "photo.png"), await sharp({ create: { width: 200, height: 200, channels: 3, background: "#336699" } }).png({ compressionLevel: 0 }).toBuffer());
    writeFileSync(join(dir, "tiny.png"), Buffer.from("x"));
    try {
      const { port } = server.address() as { port: number };
      const imported = await cli(["import", dir, "--concurrency", "1"], { IMAGES_API: `http://127.0.0.1:${port}`, API_TOKEN: "t", ACCOUNT_ID: "acct" });
      expect(imported.stdout).toContain("1 ready, 1 failed; 1 uploaded");
      expect(imported.stdout).toMatch(/tiny\.png \(tiny\.png\) at upload: unsupported image format/);
      expect(failures).toBe(4); // three transient failures, then the upload that worked
      expect(uploads.filter((n) => Number(n) < 300)).toHaveLength(1); // the 415 was not tried again
    } finally {
      server.close();
    }
  });

  it("stops on Ctrl-C with a summary of what got done and exit 130", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cli-interrupt-"));
    for (let i = 0; i < 6; i++) {
      const noise = Buffer.alloc(900 * 600 * 3);
      for (let k = 0; k < noise.length; k++) noise[k] = (k * 13 + i * 17 + ((k * k) % 241)) & 255;
      writeFileSync(join(dir, `${run}-sigint-${i}.jpg`), await sharp(noise, { raw: { width: 900, height: 600, channels: 3 } }).jpeg().toBuffer());
    }
    const interruptedBy = `${creator}-sigint`;
    const child = spawn(process.execPath, [CLI, "import", dir, "--concurrency", "1", "--creator", interruptedBy], { env: { ...process.env, ...settings }, cwd: tmpdir() });
    let stdout = "";
    child.stdout.on("data", (d) => (stdout += d));
    const code = new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
    while ((await imagesBy(interruptedBy)).length < 1) await new Promise((r) => setTimeout(r, 100));
    child.kill("SIGINT");
    expect(await code).toBe(130);
    expect(stdout).toMatch(/^Interrupted after \d of 6 images \(run it again with --resume to go on\)/);
  });

  it("refuses bad usage with exit 2, missing credentials with 3, an unreachable platform with 4", async () => {
    const usage = await cli(["import", library, "--id-from", "nonsense"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("--id-from must be path or hash");
    expect((await cli(["import"])).code).toBe(2);
    expect((await cli(["frobnicate"])).code).toBe(2);

    const noToken = await cli(["ls"], { IMAGES_API: origin });
    expect(noToken.code).toBe(3);
    expect(noToken.stderr).toContain("no API token");
    expect((await cli(["ls"], { ...settings, API_TOKEN: "wrong" })).code).toBe(3);

    const unreachable = await cli(["ls"], { ...settings, IMAGES_API: "http://127.0.0.1:1" });
    expect(unreachable.code).toBe(4);
  });

  it("answers --help for every command with exit 0", async () => {
    for (const command of [[], ["import"], ["watch"], ["ls"], ["rm"], ["variants"], ["sign"], ["tokens"]]) {
      const help = await cli([...command, "--help"], {});
      expect(help.code, command.join(" ")).toBe(0);
      expect(help.stdout, command.join(" ")).toMatch(/^usage: edge-images/);
    }
  });
});

describe("edge-images watch, ls, rm, variants and sign", () => {
  it("lists, watches, signs and deletes images", async () => {
    const photo = `${run}/2024/photo-0.jpg`;
    const listed = await cli(["ls", "--creator", creator, "--meta", "album=cli", "--json"]);
    expect(listed.code, listed.stderr).toBe(0);
    const ids = listed.stdout.trim().split("\n").map((l) => JSON.parse(l).id);
    expect(ids).toContain(photo);

    const watched = await cli(["watch", photo]);
    expect(watched).toMatchObject({ code: 0 });
    expect(watched.stdout).toMatch(/\bready\n$/);
    const broken = await cli(["watch", `${run}/2024/summer/broken.jpg`]);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/failed\s+.*JPEG/i);

    const image = await client.images.v1.edit(photo, { account_id, requireSignedURLs: true });
    const url = image.variants![0];
    expect((await fetch(url)).status).toBe(403);
    const signed = await cli(["sign", url, "--expires", "15m"]);
    expect(signed.code, signed.stderr).toBe(0);
    expect((await fetch(signed.stdout.trim())).status).toBe(200);
    expect((await cli(["sign", url, "--expires", "soon"])).code).toBe(2);

    const removed = await cli(["rm", photo]);
    expect(removed).toMatchObject({ code: 0, stdout: `deleted ${photo}\n` });
    const again = await cli(["rm", photo]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("not found");
  });

  it("creates, shows, updates and deletes a named variant, passing on the API's refusals", async () => {
    const name = `cli${run}`;
    const created = await cli(["variants", "create", name, "--fit", "cover", "--width", "200", "--height", "100"]);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(new RegExp(`${name}\\s+cover\\s+200\\s+100\\s+none\\s+false`));
    const updated = await cli(["variants", "update", name, "--width", "300", "--never-require-signed-urls"]);
    expect(updated.stdout).toMatch(new RegExp(`${name}\\s+cover\\s+300\\s+100\\s+none\\s+true`));
    expect((await cli(["variants", "list"])).stdout).toContain(name);

    const refused = await cli(["variants", "create", `${name}x`, "--fit", "squash", "--width", "1", "--height", "1"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("options.fit must be one of scale-down, contain, cover, crop, pad");

    expect(await cli(["variants", "delete", name])).toMatchObject({ code: 0 });
    expect((await cli(["variants", "get", name])).code).toBe(1);
  });
});
