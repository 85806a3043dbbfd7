// A HEIC through the platform as `npm start` runs it (wrangler's bundle of the processor, libheif-js inside).
import Cloudflare, { toFile } from "cloudflare";
import sharp from "sharp";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { makeFixtures } from "../fixtures/images.ts";

const { origin, apiToken, accountId, accountHash } = inject("platform");
const client = new Cloudflare({ apiToken, baseURL: `${origin}/client/v4`, maxRetries: 0 });
let fixtures: Awaited<ReturnType<typeof makeFixtures>>;

beforeAll(async () => {
  fixtures = await makeFixtures();
});

describe("HEIC on the running platform", () => {
  it("uploads an iPhone-style portrait HEIC and delivers its variants upright (64×100) as WebP and JPEG", async () => {
    const image = await client.images.v1.create({ account_id: accountId, file: await toFile(fixtures.heic, "portrait.heic") });
    const deadline = Date.now() + 60_000;
    let status: string | undefined;
    while (Date.now() < deadline) {
      status = (await client.images.v1.get(image.id!, { account_id: accountId }) as { status?: string }).status;
      if (status === "ready" || status === "failed") break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(status).toBe("ready");
    for (const [accept, format] of [["image/webp,*/*", "webp"], ["*/*", "jpeg"]]) {
      const response = await fetch(`${origin}/cdn-cgi/imagedelivery/${accountHash}/${image.id}/public`, { headers: { accept } });
      expect(response.status).toBe(200);
      const meta = await sharp(Buffer.from(await response.arrayBuffer())).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual([format, 64, 100]);
    }
  });
});
