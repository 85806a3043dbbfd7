import { execFile } from "node:child_process";
import Cloudflare, { AuthenticationError, PermissionDeniedError } from "cloudflare";
import { describe, expect, inject, it } from "vitest";

const { origin, apiToken, accountId } = inject("platform");
const account_id = accountId;

/** Runs `npm run cli -- ...` (the script itself, without npm's banner) against the platform; never rejects. */
function cli(args: string[], env: Record<string, string | undefined> = { IMAGES_API: origin, API_TOKEN: apiToken, ACCOUNT_ID: accountId }) {
  const merged = { ...process.env, API_TOKEN: undefined, ACCOUNT_ID: undefined, IMAGES_API: undefined, ...env };
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(process.execPath, ["cli/images.mjs", ...args], { env: merged, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

const sdk = (token: string) => new Cloudflare({ apiToken: token, baseURL: `${origin}/client/v4`, maxRetries: 0 });

describe("scoped tokens, managed with the CLI and used with the official SDK", () => {
  it("creates a read-only token, reads with it, is refused a write, revokes it and is refused after", async () => {
    const created = await cli(["tokens", "create", "--name", "e2e-reader", "--scopes", "images:read", "--json"]);
    expect(created, created.stderr).toMatchObject({ code: 0 });
    const token = JSON.parse(created.stdout);
    expect(token).toMatchObject({ name: "e2e-reader", scopes: ["images:read"], status: "active" });

    const reader = sdk(token.value);
    expect(await reader.images.v1.stats.get({ account_id })).toMatchObject({ count: { current: expect.any(Number) } });
    await expect(
      reader.images.v1.variants.create({ account_id, id: "e2e-denied", options: { fit: "cover", width: 10, height: 10, metadata: "none" } }),
    ).rejects.toBeInstanceOf(PermissionDeniedError);

    // Admin token and account from .dev.vars: only the origin is given.
    const listed = await cli(["tokens", "list"], { IMAGES_API: origin });
    expect(listed, listed.stderr).toMatchObject({ code: 0 });
    expect(listed.stdout).toMatch(new RegExp(`${token.id}\\s+e2e-reader\\s+active\\s+images:read`));
    expect(listed.stdout).not.toContain(token.value);

    const revoked = await cli(["tokens", "revoke", token.id]);
    expect(revoked, revoked.stderr).toMatchObject({ code: 0 });
    await expect(reader.images.v1.stats.get({ account_id })).rejects.toBeInstanceOf(AuthenticationError);
    expect((await cli(["tokens", "get", token.id])).stdout).toMatch(/revoked/);
  });

  it("prints the API's error and exits 1 on bad input, 3 for a credential that cannot manage tokens", async () => {
    const badScope = await cli(["tokens", "create", "--name", "typo", "--scopes", "images:raed"]);
    expect(badScope.code).toBe(1);
    expect(badScope.stderr).toContain('error: scopes: unknown scope "images:raed"; allowed: images:read, images:write, variants:write, keys:write (HTTP 400)');

    const { value } = JSON.parse((await cli(["tokens", "create", "--name", "e2e-writer", "--scopes", "images:write", "--json"])).stdout);
    const asScoped = await cli(["tokens", "list"], { IMAGES_API: origin, API_TOKEN: value, ACCOUNT_ID: accountId });
    expect(asScoped.code).toBe(3);
    expect(asScoped.stderr).toContain("only for the bootstrap API_TOKEN");
    expect(asScoped.stderr).toContain("(HTTP 403)");
  });
});
