// Global setup of the e2e suite: starts the platform exactly as `npm start` does, on a free port with a
// throwaway state directory, waits for /healthz, and hands the tests its URL and credentials.
import { writeFileSync } from "node:fs";
import type { TestProject } from "vitest/node";
import { startLocalPlatform, type LocalPlatform } from "../../scripts/local-platform.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** `pid` is the `npm start` process; the platform's workerd runs among its descendants. */
    platform: { origin: string; apiToken: string; accountId: string; accountHash: string; pid: number; engine?: { url: string; token: string } };
  }
}

let platform: LocalPlatform | undefined;

export async function setup(project: TestProject): Promise<void> {
  platform = await startLocalPlatform();
  const { origin, apiToken, accountId, accountHash, engine } = platform;
  project.provide("platform", { origin, apiToken, accountId, accountHash, pid: platform.process.child.pid!, engine });
}

export async function teardown(): Promise<void> {
  // E2E_PLATFORM_LOG=path keeps what the platform printed, for a failure that needs its side of the story.
  if (process.env.E2E_PLATFORM_LOG && platform) writeFileSync(process.env.E2E_PLATFORM_LOG, platform.process.output(1_000_000));
  await platform?.stop();
}
