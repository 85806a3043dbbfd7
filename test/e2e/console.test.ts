// The web console (console/, served as the gateway's static assets) in a real headless Chromium against the
// platform as `npm start` runs it.
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Cloudflare, { toFile } from "cloudflare";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { makeFixtures } from "../fixtures/images.ts";

const { origin, apiToken, accountId } = inject("platform");
/** Debian's package (`apt-get install -y chromium`); CHROMIUM_PATH points elsewhere. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const api = `${origin}/client/v4/accounts/${accountId}/images`;

let browser: Browser;
let page: Page;
let files: { photo: string; alpha: string; corrupt: string; hostile: string };
let gif: Buffer;
const pageErrors: string[] = [];
const cspViolations: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) return; // each browser test fails, saying how to install it
  const fixtures = await makeFixtures();
  gif = fixtures.gif;
  const dir = mkdtempSync(join(tmpdir(), "console-e2e-"));
  const run = Date.now().toString(36);
  const write = (name: string, bytes: Buffer) => {
    const path = join(dir, name);
    writeFileSync(path, bytes);
    return path;
  };
  files = {
    photo: write(`photo-${run}.jpg`, fixtures.landscapeJpeg),
    alpha: write(`disc-${run}.png`, fixtures.alphaPng),
    corrupt: write(`corrupt-${run}.jpg`, fixtures.corruptJpeg),
    // A filename is the uploader's to choose: it must reach the page as text, never as markup.
    hostile: write(`<img src=x onerror="document.title='pwned'">-${run}.png`, fixtures.alphaPng),
  };
  browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu"] });
  page = await browser.newPage();
  page.on("pageerror", (error) => pageErrors.push(String(error)));
  page.on("console", (message) => {
    if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
  });
  await page.setViewport({ width: 1100, height: 800 });
});

/** A test that drives the browser: without Chromium it fails (counted as a failure, not skipped) with the fix. */
function browserTest(name: string, body: () => Promise<void>) {
  it(name, async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`the console test needs Chromium at ${CHROMIUM}: install it with \`apt-get install -y chromium\` (Debian) or set CHROMIUM_PATH`);
    }
    await body();
  });
}

afterAll(async () => {
  await browser?.close();
});

/** Waits until every upload row has reached ready or failed; returns each row's name, state and reason. */
async function settledUploads(count: number) {
  await page.waitForFunction(
    (n) => {
      const rows = Array.from(document.querySelectorAll<HTMLElement>(".upload"));
      return rows.length === n && rows.every((r) => r.dataset.status === "ready" || r.dataset.status === "failed");
    },
    { timeout: 90_000 },
    count,
  );
  return page.$$eval(".upload", (rows) =>
    rows.map((r) => ({
      name: r.querySelector(".name")!.textContent,
      status: (r as HTMLElement).dataset.status,
      id: (r as HTMLElement).dataset.imageId,
      reason: r.querySelector(".reason")!.textContent,
      sent: (r.querySelector("progress") as HTMLProgressElement).value,
      size: (r.querySelector("progress") as HTMLProgressElement).max,
    })),
  );
}

describe("the web console in headless Chromium", () => {
  let uploads: Awaited<ReturnType<typeof settledUploads>>;

  it("serves the console at / under a Content-Security-Policy, while the API, uploads and delivery stay the Worker's", async () => {
    const response = await fetch(`${origin}/`);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('<script type="module" src="/js/main.js">');
    const csp = response.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("img-src 'self' blob:");
    expect(csp).toContain("default-src 'none'");
    expect((await fetch(`${api}/v1`)).status).toBe(401);
    expect(await (await fetch(`${origin}/upload/nothing/here`, { method: "POST" })).json()).toMatchObject({ success: false });
    expect((await fetch(`${origin}/healthz`)).status).toBe(200);
  });

  browserTest("refuses a wrong token at sign-in with the API's message, then signs in with the real one", async () => {
    await page.goto(`${origin}/`);
    await page.type("input[name=token]", "not-the-token");
    await page.type("input[name=account]", accountId);
    await page.click("form.sign-in button[type=submit]");
    await page.waitForSelector(".notice.error");
    expect(await page.$eval(".notice.error", (e) => e.textContent)).toContain("Authentication error");

    await page.$eval("input[name=token]", (e) => ((e as HTMLInputElement).value = ""));
    await page.type("input[name=token]", apiToken);
    await page.click("form.sign-in button[type=submit]");
    await page.waitForSelector(".dropzone");
    // Kept for the tab only: in sessionStorage, not in the URL, not in a cookie.
    expect(page.url()).not.toContain(apiToken);
    expect(await page.evaluate(() => document.cookie)).toBe("");
    expect(await page.evaluate(() => sessionStorage.getItem("edge-images.session"))).toContain(apiToken);
  });

  browserTest("uploads many files with per-file progress and follows each to ready, or to failed with the reason", async () => {
    const input = await page.$("input[type=file]");
    await input!.uploadFile(files.photo, files.alpha, files.corrupt, files.hostile);
    uploads = await settledUploads(4);
    const byName = Object.fromEntries(uploads.map((u) => [u.name, u]));
    for (const path of [files.photo, files.alpha, files.hostile]) {
      const name = path.slice(path.lastIndexOf("/") + 1);
      expect(byName[name], name).toMatchObject({ status: "ready", reason: "" });
      expect(byName[name].sent).toBe(byName[name].size);
    }
    const corrupt = byName[files.corrupt.slice(files.corrupt.lastIndexOf("/") + 1)];
    expect(corrupt.status).toBe("failed");
    expect(corrupt.reason).not.toBe("");
    // What the console showed is what the API has.
    const stored = await (await fetch(`${api}/v1/${corrupt.id}`, { headers: { authorization: `Bearer ${apiToken}` } })).json();
    expect(stored.result).toMatchObject({ status: "failed", error: corrupt.reason });
  });

  browserTest("shows the uploads in the gallery as thumbnails, with hostile filenames as plain text", async () => {
    const ready = uploads.filter((u) => u.status === "ready");
    await page.waitForFunction(
      (ids) => ids.every((id) => document.querySelector(`.card[data-image-id="${id}"] .thumb:not(.placeholder) img`)),
      { timeout: 30_000 },
      ready.map((u) => u.id),
    );
    const hostile = uploads.find((u) => u.name!.startsWith("<img"))!;
    // (Browsers send `"` in a multipart filename as %22, so the stored name is the one to compare with.)
    const stored = await (await fetch(`${api}/v1/${hostile.id}`, { headers: { authorization: `Bearer ${apiToken}` } })).json();
    expect(stored.result.filename).toMatch(/^<img src=x onerror=/);
    expect(await page.$eval(`.card[data-image-id="${hostile.id}"] .caption`, (e) => e.textContent)).toBe(stored.result.filename);
    expect(await page.$$eval(".card .caption img", (imgs) => imgs.length)).toBe(0);
    expect(await page.$eval(`.card[data-image-id="${hostile.id}"] a`, (a) => a.getAttribute("href"))).toBe(`#/image/${encodeURIComponent(hostile.id!)}`);
    expect(await page.title()).not.toBe("pwned");
    if (process.env.CONSOLE_SCREENSHOT) await page.screenshot({ path: process.env.CONSOLE_SCREENSHOT });
  });

  browserTest("filters the gallery by creator and by metadata", async () => {
    const [tagged] = uploads.filter((u) => u.status === "ready");
    const patch = await fetch(`${api}/v1/${tagged.id}`, {
      method: "PATCH",
      headers: { authorization: `Bearer ${apiToken}`, "content-type": "application/json" },
      body: JSON.stringify({ creator: "console-e2e", metadata: { album: "console" } }),
    });
    expect(patch.status).toBe(200);
    await page.type("input[name=creator]", "console-e2e");
    await page.click("form.filters button[type=submit]");
    await page.waitForFunction((id) => {
      const cards = document.querySelectorAll(".card");
      return cards.length === 1 && (cards[0] as HTMLElement).dataset.imageId === id;
    }, {}, tagged.id);

    await page.$eval("input[name=creator]", (e) => ((e as HTMLInputElement).value = ""));
    await page.click("button[name=add-filter]");
    await page.type(".filter-row input[name=field]", "album");
    await page.type(".filter-row input[name=value]", "console");
    await page.click("form.filters button[type=submit]");
    await page.waitForFunction((id) => {
      const cards = document.querySelectorAll(".card");
      return cards.length === 1 && (cards[0] as HTMLElement).dataset.imageId === id;
    }, {}, tagged.id);
    await page.click(".filter-row button[aria-label='Remove this filter']");
    await page.click("form.filters button[type=submit]");
    await page.waitForFunction(() => document.querySelectorAll(".card").length > 1);
  });

  browserTest("pages through the gallery with the continuation token", async () => {
    const client = new Cloudflare({ apiToken, baseURL: `${origin}/client/v4`, maxRetries: 0 });
    const creator = `console-pages-${Date.now().toString(36)}`;
    for (let i = 0; i < 11; i++) await client.images.v1.create({ account_id: accountId, file: await toFile(gif, `page-${i}.gif`), creator } as never);
    await page.select("select[name=perPage]", "10");
    await page.$eval("input[name=creator]", (e) => ((e as HTMLInputElement).value = ""));
    await page.type("input[name=creator]", creator);
    await page.click("form.filters button[type=submit]");
    const pageShows = (cards: number, label: string) =>
      page.waitForFunction((n, l) => document.querySelectorAll(".card").length === n && document.querySelector(".pager span")?.textContent === l, {}, cards, label);
    await pageShows(10, "Page 1");
    const firstPage = await page.$$eval(".card", (cards) => cards.map((c) => (c as HTMLElement).dataset.imageId));
    await page.click(".pager button:last-child"); // Next
    await pageShows(1, "Page 2");
    const secondPage = await page.$$eval(".card", (cards) => cards.map((c) => (c as HTMLElement).dataset.imageId));
    expect(firstPage).not.toContain(secondPage[0]);
    expect(await page.$eval(".pager button:last-child", (b) => (b as HTMLButtonElement).disabled)).toBe(true);
    await page.click(".pager button:first-child"); // Previous
    await pageShows(10, "Page 1");
    await page.$eval("input[name=creator]", (e) => ((e as HTMLInputElement).value = ""));
    await page.select("select[name=perPage]", "24");
    await page.click("form.filters button[type=submit]");
    await page.waitForFunction(() => document.querySelectorAll(".card").length > 10);
  });

  browserTest("shows an image's variants with format and size, edits its metadata, and signs a URL that delivery accepts", async () => {
    const photo = uploads.find((u) => u.name === files.photo.slice(files.photo.lastIndexOf("/") + 1))!;
    await page.goto(`${origin}/#/image/${encodeURIComponent(photo.id!)}`);
    await page.waitForSelector('.renditions figure[data-variant="public"] img');
    expect(await page.$eval('.renditions figure[data-variant="public"] .format', (e) => e.textContent)).toMatch(/^(avif|webp|jpeg|png) · [\d.]+ (B|kB|MB)$/);

    await page.$eval("textarea[name=metadata]", (e) => ((e as HTMLTextAreaElement).value = '{"album": "<b>summer</b>"}'));
    await page.click("form[aria-label='Edit image'] button[type=submit]");
    await page.waitForFunction(() => Array.from(document.querySelectorAll(".notice")).some((n) => n.textContent === "Saved."));
    const stored = await (await fetch(`${api}/v1/${photo.id}`, { headers: { authorization: `Bearer ${apiToken}` } })).json();
    expect(stored.result.meta).toEqual({ album: "<b>summer</b>" });

    // Signed URLs required: the unsigned URL is refused, the console's signed one is served.
    await page.click("input[name=requireSignedURLs]");
    await page.waitForFunction(() => Array.from(document.querySelectorAll(".notice")).some((n) => n.textContent === "Access updated."));
    expect((await fetch(stored.result.variants[0])).status).toBe(403);
    await page.$eval("input[name=variant]", (e) => ((e as HTMLInputElement).value = "public"));
    await page.click("form[aria-label='Signed URL'] button[type=submit]");
    const signed = await page.waitForSelector(".signed-url code").then((e) => e!.evaluate((c) => c.textContent!));
    expect(signed).toMatch(/\?exp=\d+&sig=[0-9a-f]{64}$/);
    expect((await fetch(signed)).status).toBe(200);
    // A signature off by its first hex digit (always a different digit: "sig=0…" would stay itself a 16th of the time).
    const tampered = signed.replace(/sig=(.)/, (_, d: string) => `sig=${d === "0" ? "1" : "0"}`);
    expect(tampered).not.toBe(signed);
    expect((await fetch(tampered)).status).toBe(403);
  });

  browserTest("creates a variant with a live preview, edits it and deletes it", async () => {
    const name = `c${Date.now().toString(36)}`;
    await page.goto(`${origin}/#/variants`);
    await page.waitForSelector("form[aria-label=Variant] input[name=id]");
    await page.type("input[name=id]", name);
    await page.select("select[name=fit]", "cover");
    await page.$eval("input[name=width]", (e) => ((e as HTMLInputElement).value = ""));
    await page.type("input[name=width]", "120");
    await page.$eval("input[name=height]", (e) => ((e as HTMLInputElement).value = ""));
    await page.type("input[name=height]", "90");
    await page.waitForFunction(() => /^w=120,h=90,fit=cover,metadata=none: 120 × 90 px$/.test(document.querySelector(".preview + .hint")?.textContent ?? ""), { timeout: 30_000 });
    await page.click("form[aria-label=Variant] button[type=submit]");
    await page.waitForSelector(`tr[data-variant="${name}"]`);
    expect(await page.$eval(`tr[data-variant="${name}"]`, (e) => e.textContent)).toContain("cover120 × 90none");
    const variant = async () => (await (await fetch(`${api}/v1/variants/${name}`, { headers: { authorization: `Bearer ${apiToken}` } })).json()).result?.variant;
    expect((await variant()).options).toEqual({ fit: "cover", width: 120, height: 90, metadata: "none" });

    await page.click(`tr[data-variant="${name}"] button[aria-label="Edit ${name}"]`);
    await page.waitForFunction((n) => document.querySelector("form[aria-label=Variant] h2")?.textContent === `Edit ${n}`, {}, name);
    await page.$eval("input[name=width]", (e) => ((e as HTMLInputElement).value = ""));
    await page.type("input[name=width]", "150");
    await page.click("form[aria-label=Variant] button[type=submit]");
    await page.waitForFunction((n) => document.querySelector(`tr[data-variant="${n}"]`)?.textContent?.includes("150 × 90"), {}, name);
    expect((await variant()).options.width).toBe(150);

    await page.click(`tr[data-variant="${name}"] button[aria-label="Delete ${name}"]`);
    await page.waitForSelector("dialog.confirm[open]");
    await page.click("dialog.confirm button[value=yes]");
    await page.waitForSelector(`tr[data-variant="${name}"]`, { hidden: true });
    expect(await variant()).toBeUndefined();
  });

  browserTest("deletes an image after confirmation; cancelling keeps it", async () => {
    const target = uploads.find((u) => u.name === files.alpha.slice(files.alpha.lastIndexOf("/") + 1))!;
    await page.goto(`${origin}/#/image/${encodeURIComponent(target.id!)}`);
    await page.waitForSelector(".danger-zone button");
    await page.click(".danger-zone button");
    await page.waitForSelector("dialog.confirm[open]");
    await page.click("dialog.confirm button[value=no]");
    await page.waitForSelector("dialog.confirm", { hidden: true });
    const get = () => fetch(`${api}/v1/${target.id}`, { headers: { authorization: `Bearer ${apiToken}` } });
    expect((await get()).status).toBe(200);

    await page.click(".danger-zone button");
    await page.waitForSelector("dialog.confirm[open]");
    await page.click("dialog.confirm button[value=yes]");
    await page.waitForSelector(".dropzone"); // back in the gallery
    await page.waitForFunction((id) => !document.querySelector(`.card[data-image-id="${id}"]`) && document.querySelectorAll(".card").length > 0, {}, target.id);
    expect((await get()).status).toBe(404);
    expect(pageErrors).toEqual([]);
    expect(cspViolations).toEqual([]);
  });
});
