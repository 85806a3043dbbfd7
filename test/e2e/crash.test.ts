// `npm start` killed (SIGKILL, the whole process group) in the middle of a batch of uploads, then started again on
// the same state: every upload that was acknowledged ends ready or failed, none is lost, and nothing that was not
// acknowledged lingers half-made. Miniflare's queue keeps its messages in memory, so the restart also proves that
// recovery does not depend on the queue: the coordinators' persisted alarms re-send the lost jobs.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import sharp from "sharp";
import { afterAll, describe, expect, it } from "vitest";
import { freePort, startLocalPlatform, type LocalPlatform } from "../../scripts/local-platform.ts";

const BATCH = 12;
/** A queued job is re-sent after QUEUE_CLAIM_SECONDS (45 s), a claimed one after its lease (75 s). */
const SETTLE_MS = 150_000;

let platform: LocalPlatform | undefined;
const stateDir = mkdtempSync(join(tmpdir(), "images-crash-"));

afterAll(async () => {
  await platform?.stop();
  rmSync(stateDir, { recursive: true, force: true });
});

describe("a crash of the whole platform during uploads", () => {
  it("leaves every acknowledged upload ready or failed after a restart, and nothing unacknowledged behind", { timeout: 360_000 }, async () => {
    const port = await freePort();
    platform = await startLocalPlatform({ port, stateDir });
    const photo = await sharp({ create: { width: 2400, height: 1600, channels: 3, background: "#5a8" } })
      .composite([{ input: Buffer.from(`<svg width="2400" height="1600"><circle cx="1200" cy="800" r="600" fill="#a35"/></svg>`) }])
      .jpeg({ quality: 92 })
      .toBuffer();
    const ids = Array.from({ length: BATCH }, (_, i) => `crash-e2e-${i}`);
    const acknowledged = new Set<string>();
    const first = platform;
    const uploads = ids.map(async (id, i) => {
      await new Promise((r) => setTimeout(r, i * 60));
      const form = new FormData();
      form.append("file", new Blob([photo], { type: "image/jpeg" }), `${id}.jpg`);
      form.append("id", id);
      try {
        const response = await fetch(`${api(first)}/v1`, { method: "POST", headers: auth(first), body: form });
        if (response.status === 200) acknowledged.add(id);
      } catch {
        // cut off by the crash: not acknowledged
      }
    });
    // Crash once a few uploads have been acknowledged and the rest are in flight or not yet sent.
    const deadline = Date.now() + 60_000;
    while (acknowledged.size < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    first.process.kill();
    await Promise.all(uploads);
    expect(acknowledged.size).toBeGreaterThanOrEqual(3);
    expect(acknowledged.size).toBeLessThan(BATCH);

    const crashedAt = Date.now();
    platform = await startLocalPlatform({ port, stateDir });
    const restartedAfter = Date.now() - crashedAt;
    const settled = new Map<string, string>();
    const settledAfter = new Map<string, number>();
    const lastSeen = new Map<string, string>();
    const settleBy = Date.now() + SETTLE_MS;
    while (settled.size < BATCH && Date.now() < settleBy) {
      for (const id of ids.filter((i) => !settled.has(i))) {
        const response = await fetch(`${api(platform)}/v1/${id}`, { headers: auth(platform) });
        const body = (await response.json()) as { result?: { status: string } };
        lastSeen.set(id, body.result?.status ?? String(response.status));
        if (response.status === 404) {
          if (!acknowledged.has(id)) settled.set(id, "absent");
        } else if (body.result && ["ready", "failed"].includes(body.result.status)) {
          settled.set(id, body.result.status);
        }
        if (settled.has(id) && !settledAfter.has(id)) settledAfter.set(id, Date.now() - crashedAt);
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    const report = Object.fromEntries(
      ids.map((id) => [id, `${acknowledged.has(id) ? "acked" : "unacked"} → ${settled.get(id) ?? `NOT SETTLED (${lastSeen.get(id)})`} at ${Math.round((settledAfter.get(id) ?? NaN) / 1000)} s`]),
    );
    console.log(`restarted ${Math.round(restartedAfter / 1000)} s after the crash; settled:`, report);
    const unsettled = [...acknowledged].filter((id) => !settled.has(id));
    if (unsettled.length > 0) {
      // What the restarted platform logged about them (its job, render and error lines), to tell why.
      const lines = platform.process.output(65_536).split("\n");
      const told = lines.filter((line) => line.includes('"event"') && (unsettled.some((id) => line.includes(id)) || /"event":"(error|warning|job\.dead_letter)"/.test(line)));
      console.log(`log lines about ${unsettled.join(", ")}:\n${told.slice(-40).join("\n")}`);
    }
    for (const id of acknowledged) expect(["ready", "failed"], JSON.stringify(report)).toContain(settled.get(id));
    expect(settled.size, JSON.stringify(report)).toBe(BATCH);

    // The counter agrees with what exists: nothing half-made is counted, nothing real is missing.
    const stats = (await (await fetch(`${api(platform)}/v1/stats`, { headers: auth(platform) })).json()) as { result: { count: { current: number } } };
    const existing = [...settled.values()].filter((s) => s !== "absent").length;
    expect(stats.result.count.current).toBe(existing);
    for (const id of ids.filter((i) => settled.get(i) === "ready")) {
      const delivered = await fetch(`${platform.origin}/cdn-cgi/imagedelivery/${platform.accountHash}/${id}/w=200,f=jpeg`);
      expect(delivered.status, id).toBe(200);
    }
  });
});

const api = (p: LocalPlatform) => `${p.origin}/client/v4/accounts/${p.accountId}/images`;
const auth = (p: LocalPlatform) => ({ authorization: `Bearer ${p.apiToken}` });
