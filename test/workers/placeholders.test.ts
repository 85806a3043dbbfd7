import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { thumbHashToRGBA } from "thumbhash";
import type { Placeholder } from "../../wasm/src/placeholder.ts";
import { probeImage } from "../../wasm/src/probe.ts";
import { renderInEngineProcess, serveRenderCall } from "../../workers/processor/pipeline/engine-process.ts";
import { renderInPlace } from "../../workers/processor/pipeline/render.ts";
import { backfillImage } from "../../workers/processor/variant-backfill.ts";
import { parseConfig } from "../../workers/shared/config.ts";
import { database } from "../../workers/shared/db.ts";
import { findImage } from "../../workers/shared/image-records.ts";
import { parseFlexibleOptions } from "../../workers/shared/transform.ts";
import type { FixtureName } from "../fixtures/images.ts";
import { api, fixture, json, upload, waitForStatus } from "./helpers.ts";

// Every processed image gets a placeholder (our extension of the Image object): a ThumbHash and a dominant colour,
// made during the eager render and shown beside Cloudflare's fields wherever the API answers an image.

async function uploadReady(name: FixtureName, id: string) {
  await json(await upload(name, { id }));
  expect(await waitForStatus(id, ["ready", "failed"])).toMatchObject({ status: "ready" });
  return (await json(await api(`/v1/${id}`))).result;
}

const decode = (thumbhash: string) => thumbHashToRGBA(Uint8Array.from(atob(thumbhash), (c) => c.charCodeAt(0)));

function meanRgb(rgba: Uint8Array): number[] {
  const sums = [0, 0, 0];
  for (let i = 0; i < rgba.length; i += 4) for (let c = 0; c < 3; c++) sums[c] += rgba[i + c];
  return sums.map((s) => s / (rgba.length / 4));
}

describe("placeholders", () => {
  it("a solid-colour image's dominant colour is that colour exactly, and its ThumbHash decodes to it", async () => {
    const image = await uploadReady("solidColourPng", "solid");
    expect(image.placeholder).toEqual({ thumbhash: expect.stringMatching(/^[A-Za-z0-9+/]+=*$/), dominantColor: "#3366cc" });
    const mean = meanRgb(decode(image.placeholder.thumbhash).rgba);
    [0x33, 0x66, 0xcc].forEach((v, c) => expect(Math.abs(mean[c] - v)).toBeLessThan(6));
  });

  it("a photo's ThumbHash decodes to a tiny image whose mean colour is close to the original's", async () => {
    // The landscape fixture blends red, green, blue and white corners bilinearly: its mean is mid-grey (127.5 each).
    const image = await uploadReady("landscapeJpeg", "placeholder-photo");
    const tiny = decode(image.placeholder.thumbhash);
    expect(tiny.w / tiny.h).toBeGreaterThan(1.1); // 4:3, as ThumbHash keeps it
    for (const v of meanRgb(tiny.rgba)) expect(Math.abs(v - 127.5)).toBeLessThan(10);
    expect(image.placeholder.dominantColor).toMatch(/^#[0-9a-f]{6}$/);
  });

  it("is stored with the image and shown in the list too", async () => {
    const image = await uploadReady("alphaPng", "placeholder-listed");
    const row = await env.DB.prepare("SELECT thumbhash, dominant_color FROM images WHERE id = ?").bind("placeholder-listed").first();
    expect(row).toEqual({ thumbhash: image.placeholder.thumbhash, dominant_color: image.placeholder.dominantColor });
    const listed = (await json(await api("/v2?per_page=1000"))).result.images.find((i: { id: string }) => i.id === "placeholder-listed");
    expect(listed.placeholder).toEqual(image.placeholder);
  });

  it("an image processed before placeholders existed has no placeholder field, rather than an invented one", async () => {
    await uploadReady("gif", "placeholder-old");
    await env.DB.prepare("UPDATE images SET thumbhash = NULL, dominant_color = NULL WHERE id = ?").bind("placeholder-old").run();
    const image = (await json(await api("/v1/placeholder-old"))).result;
    expect(image).not.toHaveProperty("placeholder");
    expect(image).toMatchObject({ id: "placeholder-old", status: "ready" });
  });

  it("an image processed before placeholders existed gets one when a variant backfill renders it again", async () => {
    const before = await uploadReady("solidColourPng", "placeholder-backfilled");
    await env.DB.prepare("UPDATE images SET thumbhash = NULL, dominant_color = NULL WHERE id = ?").bind("placeholder-backfilled").run();
    const row = (await findImage(database(env.DB), "placeholder-backfilled"))!;
    const variant = { id: "placeholder-bf", fit: "scale-down" as const, width: 40, height: 40, metadata: "none" as const, extra: {}, neverRequireSignedUrls: false, updatedAt: new Date().toISOString() };
    expect(await backfillImage(env, parseConfig(env, false), variant, row, new Set())).toBe("done");
    expect((await json(await api("/v1/placeholder-backfilled"))).result.placeholder).toEqual(before.placeholder);
  });

  it("an animated original gets its placeholder from its first frame", async () => {
    const image = await uploadReady("animatedGif", "placeholder-animated");
    // animatedGif's first frame is solid red.
    expect(image.placeholder.dominantColor).toBe("#ff0000");
  });
});

describe("the local render process (npm start)", () => {
  it("hands the placeholder back with the outputs, the same as a render in place", async () => {
    const original = fixture("landscapeJpeg");
    const source = probeImage(original);
    const settings = { memoryBudgetBytes: 96 * 1024 * 1024, limits: { maxPixels: 100_000_000 } };
    const requests = [{ transform: parseFlexibleOptions("w=200"), format: "webp" as const, fingerprint: "test", variant: null }];
    const engine = { url: "http://render-process.test", token: "t", send: (request: Request) => serveRenderCall(request, "t", renderInPlace) };
    let there: Placeholder | undefined, here: Placeholder | undefined;
    await renderInEngineProcess(engine, settings, original, source, requests, undefined, (p) => (there = p));
    await renderInPlace(settings, original, source, requests, undefined, (p) => (here = p));
    expect(here).toBeDefined();
    expect(there).toEqual(here);
  });
});
