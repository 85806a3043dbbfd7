import { execFile } from "node:child_process";
import { promisify } from "node:util";
import Cloudflare, { toFile } from "cloudflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalPlatform, type LocalPlatform } from "../../scripts/local-platform.ts";
import { makeFixtures } from "../fixtures/images.ts";

// A platform of its own: the rules count what happened in the last hour, and the shared e2e platform's other
// tests upload broken files on purpose.
let platform: LocalPlatform;
let client: Cloudflare;
let origin: string;
let apiToken: string;
let account_id: string;

beforeAll(async () => {
  platform = await startLocalPlatform();
  ({ origin, apiToken, accountId: account_id } = platform);
  client = new Cloudflare({ apiToken, baseURL: `${origin}/client/v4`, maxRetries: 0 });
}, 180_000);

afterAll(async () => {
  await platform?.stop();
});

/** Runs `npm run ops:check` as an operator would, with the credentials in the environment. */
async function opsCheck(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const run = promisify(execFile)(process.execPath, ["scripts/ops-check.ts", "--origin", origin, ...args], {
    env: { ...process.env, API_TOKEN: apiToken, ACCOUNT_ID: account_id },
    timeout: 30_000,
  });
  try {
    const { stdout, stderr } = await run;
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

async function waitForStatus(id: string, status: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    // `status` is our extension of the image answer, beside Cloudflare's fields.
    const image = (await client.images.v1.get(id, { account_id })) as { status?: string };
    if (image.status === status) return;
    if (Date.now() > deadline) throw new Error(`image ${id} did not become ${status}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe("ops:check against npm start", () => {
  it("passes on a healthy platform, every rule within its default threshold", async () => {
    const fixtures = await makeFixtures();
    const image = await client.images.v1.create({ account_id, file: await toFile(fixtures.gif, "healthy.gif") });
    await waitForStatus(image.id!, "ready");
    const result = await opsCheck();
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^ok +failed-last-hour: 0 \(threshold 25\)/m);
    expect(result.stdout).toMatch(/^ok +render-p99-ms: \d+/m);
  });

  it("exits non-zero naming the rule that fired: a failed image in the last hour with a threshold of 0", async () => {
    const fixtures = await makeFixtures();
    const image = await client.images.v1.create({ account_id, file: await toFile(fixtures.corruptJpeg, "broken.jpg") });
    await waitForStatus(image.id!, "failed");
    const result = await opsCheck("--threshold", "failed-last-hour=0");
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^FIRED failed-last-hour: 1 \(threshold 0\)/m);
    expect(result.stderr).toContain("1 rule(s) fired: failed-last-hour");
  });

  it("refuses a threshold for a rule it does not know", async () => {
    const result = await opsCheck("--threshold", "no-such-rule=1");
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--threshold takes rule=number");
  });
});
