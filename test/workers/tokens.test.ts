import { createExecutionContext, env, SELF, waitOnExecutionContext } from "cloudflare:test";
import { Hono } from "hono";
import { beforeAll, describe, expect, it } from "vitest";
import { findToken, recordTokenUse, TOKEN_PREFIX } from "../../workers/gateway/api-tokens.ts";
import type { GatewayContext } from "../../workers/gateway/app.ts";
import { requireApiToken, requiredAccess } from "../../workers/gateway/auth.ts";
import { parseConfig } from "../../workers/shared/config.ts";
import { sha256Hex } from "../../workers/shared/crypto.ts";
import { database } from "../../workers/shared/db.ts";
import { SCOPES, type Scope } from "../../workers/shared/scopes.ts";
import { AUTH, api, json } from "./helpers.ts";

const TOKENS = "https://images.test/client/v4/accounts/test-account/tokens";

const bearer = (value: string) => ({ authorization: `Bearer ${value}` });

/** Calls the token API, as the bootstrap API_TOKEN unless other headers say otherwise. */
function tokensApi(path = "", init: RequestInit = {}): Promise<Response> {
  return SELF.fetch(`${TOKENS}${path}`, { ...init, headers: { ...AUTH, "content-type": "application/json", ...(init.headers ?? {}) } });
}

async function createToken(fields: Record<string, unknown>): Promise<any> {
  return (await json(await tokensApi("", { method: "POST", body: JSON.stringify(fields) }))).result;
}

const storedRows = async () => (await env.DB.prepare("SELECT * FROM api_tokens").all()).results;

describe("managing tokens", () => {
  it("creates a token whose value is shown once; D1 holds only its SHA-256", async () => {
    const created = await createToken({ name: "thumbnailer", scopes: ["images:read", "images:write"] });
    expect(created).toMatchObject({ name: "thumbnailer", scopes: ["images:read", "images:write"], status: "active", expires_on: null });
    expect(created.id).toMatch(/^[0-9a-f]{32}$/);
    expect(created.value).toMatch(new RegExp(`^${TOKEN_PREFIX}[A-Za-z0-9_-]{43}$`)); // 32 random bytes
    expect(Date.parse(created.created_on)).toBeGreaterThan(Date.now() - 60_000);

    const row = await env.DB.prepare("SELECT * FROM api_tokens WHERE id = ?").bind(created.id).first();
    expect(row?.hash).toBe(await sha256Hex(created.value));
    const secret = created.value.slice(TOKEN_PREFIX.length);
    expect(JSON.stringify(await storedRows())).not.toContain(secret);
  });

  it("lists and reads tokens without their values or hashes", async () => {
    const created = await createToken({ name: "lister", scopes: ["keys:write"], expires_on: "2099-01-01T00:00:00+01:00" });
    const { value, ...shown } = created;
    const listed = (await json(await tokensApi())).result as any[];
    expect(listed).toContainEqual(shown);
    expect((await json(await tokensApi(`/${created.id}`))).result).toEqual(shown);
    expect(shown.expires_on).toBe("2098-12-31T23:00:00.000Z");
    const hash = await sha256Hex(value);
    for (const token of listed) expect(JSON.stringify(token)).not.toMatch(new RegExp(`${value}|${hash}|"hash"|"value"`));
  });

  it("revokes a token: the very next request with it is 401, and it lists as revoked", async () => {
    const { id, value } = await createToken({ name: "leaked", scopes: ["images:read"] });
    await json(await api("/v1/stats", { headers: bearer(value) }));

    expect((await json(await tokensApi(`/${id}`, { method: "DELETE" }))).result).toEqual({ id });

    const refused = await json(await api("/v1/stats", { headers: bearer(value) }), 401);
    expect(refused.errors[0]).toEqual({ code: 10000, message: "Authentication error: this API token has been revoked" });
    const shown = (await json(await tokensApi(`/${id}`))).result;
    expect(shown.status).toBe("revoked");
    expect(Date.parse(shown.revoked_on)).toBeGreaterThan(Date.now() - 60_000);
    // Revoking again changes nothing.
    await json(await tokensApi(`/${id}`, { method: "DELETE" }));
    expect((await json(await tokensApi(`/${id}`))).result.revoked_on).toBe(shown.revoked_on);
  });

  it("refuses a token past its expires_on with 401 on the next request", async () => {
    const expiresOn = new Date(Date.now() + 1500).toISOString();
    const { id, value } = await createToken({ name: "short-lived", scopes: ["images:read"], expires_on: expiresOn });
    await json(await api("/v1/stats", { headers: bearer(value) }));

    await new Promise((r) => setTimeout(r, Date.parse(expiresOn) - Date.now() + 50));
    const refused = await json(await api("/v1/stats", { headers: bearer(value) }), 401);
    expect(refused.errors[0].message).toBe(`Authentication error: this API token expired at ${expiresOn}`);
    expect((await json(await tokensApi(`/${id}`))).result.status).toBe("expired");
  });

  it("lets only the bootstrap API_TOKEN manage tokens: a token with every scope gets 403", async () => {
    const { id, value } = await createToken({ name: "ambitious", scopes: [...SCOPES] });
    const attempts: [string, RequestInit][] = [
      ["", { method: "POST", body: JSON.stringify({ name: "escalated", scopes: ["keys:write"] }) }],
      ["", {}],
      [`/${id}`, {}],
      [`/${id}`, { method: "DELETE" }],
    ];
    for (const [path, init] of attempts) {
      const body = await json(await tokensApi(path, { ...init, headers: bearer(value) }), 403);
      expect(body.errors[0].message).toContain("only for the bootstrap API_TOKEN");
    }
    expect((await json(await tokensApi(`/${id}`))).result.status).toBe("active");
    expect((await storedRows()).map((r) => r.name)).not.toContain("escalated");
  });

  it("refuses bad input with 400 naming the field, and unknown ids with 404", async () => {
    const refusals: [unknown, string][] = [
      [{ scopes: ["images:read"] }, "name must be a string of 1–120 printable characters, got undefined"],
      [{ name: " ", scopes: ["images:read"] }, "name must be"],
      [{ name: "x".repeat(121), scopes: ["images:read"] }, "name must be"],
      [{ name: "svc" }, "scopes must be a non-empty array of scope names (images:read, images:write, variants:write, keys:write), got undefined"],
      [{ name: "svc", scopes: [] }, "scopes must be a non-empty array"],
      [{ name: "svc", scopes: "images:read" }, "scopes must be a non-empty array"],
      [
        { name: "svc", scopes: ["images:read", "images:delete", "admin"] },
        'scopes: unknown scope "images:delete", "admin"; allowed: images:read, images:write, variants:write, keys:write',
      ],
      [{ name: "svc", scopes: ["images:read"], expires_on: "tomorrow" }, 'expires_on must be an RFC 3339 date-time such as 2030-01-01T00:00:00Z, got "tomorrow"'],
      [{ name: "svc", scopes: ["images:read"], expires_on: 1893456000 }, "expires_on must be an RFC 3339 date-time"],
      [{ name: "svc", scopes: ["images:read"], expires_on: "2020-01-01T00:00:00Z" }, 'expires_on must be in the future, got "2020-01-01T00:00:00Z"'],
      [{ name: "svc", scopes: ["images:read"], policies: [] }, 'unknown field "policies": a token takes name, scopes, expires_on'],
      [["images:read"], "expected a JSON object body"],
    ];
    const before = (await storedRows()).length;
    for (const [body, message] of refusals) {
      const refused = await json(await tokensApi("", { method: "POST", body: JSON.stringify(body) }), 400);
      expect(refused.errors[0], JSON.stringify(body)).toMatchObject({ code: 5400, message: expect.stringContaining(message) });
    }
    expect(await json(await tokensApi("", { method: "POST", body: "{not json" }), 400)).toMatchObject({ success: false });
    expect((await storedRows()).length).toBe(before);

    for (const init of [{}, { method: "DELETE" }]) {
      expect((await json(await tokensApi("/0123456789abcdef0123456789abcdef", init), 404)).errors[0].message).toContain("not found");
    }
  });
});

describe("authenticating with a token", () => {
  it("refuses a token that was never issued, or one for another account", async () => {
    for (const value of [`${TOKEN_PREFIX}${"A".repeat(43)}`, "not-a-token"]) {
      const refused = await json(await api("/v1/stats", { headers: bearer(value) }), 401);
      expect(refused.errors[0].code).toBe(10000);
    }
    const { value } = await createToken({ name: "elsewhere", scopes: [...SCOPES] });
    const other = await SELF.fetch("https://images.test/client/v4/accounts/other-account/images/v1/stats", { headers: bearer(value) });
    expect((await json(other, 403)).errors[0].message).toContain("other-account");
  });

  it("shows when a token was last used", async () => {
    const { id, value } = await createToken({ name: "busy", scopes: ["images:read"] });
    expect((await json(await tokensApi(`/${id}`))).result.last_used_on).toBeNull();
    await json(await api("/v1/stats", { headers: bearer(value) }));
    // The write is left to waitUntil, after the response.
    let lastUsed: string | null = null;
    for (let i = 0; i < 50 && !lastUsed; i++) {
      lastUsed = (await json(await tokensApi(`/${id}`))).result.last_used_on;
      if (!lastUsed) await new Promise((r) => setTimeout(r, 100));
    }
    expect(Date.parse(lastUsed!)).toBeGreaterThan(Date.now() - 60_000);
  });

  it("writes last use at most once a minute per token, even from requests holding the same stale row", async () => {
    const { id } = await createToken({ name: "chatty", scopes: ["images:read"] });
    const db = database(env.DB);
    const stale = (await findToken(db, id))!;
    const t0 = new Date("2030-01-01T00:00:00Z");
    expect(await recordTokenUse(db, stale, t0)).toBe(true);
    expect(await recordTokenUse(db, stale, new Date(t0.getTime() + 1000))).toBe(false);
    const fresh = (await findToken(db, id))!;
    expect(fresh.lastUsedAt).toBe(t0.toISOString());
    expect(await recordTokenUse(db, fresh, new Date(t0.getTime() + 59_000))).toBe(false);
    expect(await recordTokenUse(db, fresh, new Date(t0.getTime() + 61_000))).toBe(true);
    expect((await findToken(db, id))!.lastUsedAt).toBe("2030-01-01T00:01:01.000Z");
  });

  it("leaves who called in the context for later code", async () => {
    const { id, value } = await createToken({ name: "reporter", scopes: ["images:read"] });
    const app = new Hono<GatewayContext>();
    app.use(async (c, next) => {
      c.set("config", parseConfig(c.env));
      await next();
    });
    app.use("/client/v4/accounts/:account_id/*", requireApiToken);
    app.get("/client/v4/accounts/:account_id/images/v1/stats", (c) => c.json(c.get("principal")));
    const whoami = async (token: string) => {
      const ctx = createExecutionContext();
      const response = await app.request("https://images.test/client/v4/accounts/test-account/images/v1/stats", { headers: bearer(token) }, env, ctx);
      await waitOnExecutionContext(ctx);
      return json(response);
    };
    expect(await whoami("test-token")).toEqual({ kind: "admin" });
    expect(await whoami(value)).toEqual({ kind: "token", id, name: "reporter", scopes: ["images:read"] });
  });
});

describe("scopes", () => {
  /** Every management route, with the scope it needs and what it answers once let in. */
  const ROUTES: { route: string; needs: Scope; answers: number; body?: unknown }[] = [
    { route: "GET /v1", needs: "images:read", answers: 200 },
    { route: "GET /v2", needs: "images:read", answers: 200 },
    { route: "GET /v1/stats", needs: "images:read", answers: 200 },
    { route: "GET /v1/no-such-image", needs: "images:read", answers: 404 },
    { route: "HEAD /v1/no-such-image", needs: "images:read", answers: 404 },
    { route: "GET /v1/no-such-image/blob", needs: "images:read", answers: 404 },
    { route: "GET /v1/no-such-image/events", needs: "images:read", answers: 404 },
    { route: "GET /v1/variants", needs: "images:read", answers: 200 },
    { route: "GET /v1/variants/public", needs: "images:read", answers: 200 },
    { route: "POST /v1", needs: "images:write", answers: 400 },
    { route: "PATCH /v1/no-such-image", needs: "images:write", answers: 404, body: {} },
    { route: "DELETE /v1/no-such-image", needs: "images:write", answers: 404 },
    { route: "POST /v2/direct_upload", needs: "images:write", answers: 400, body: { expiry: "soon" } },
    { route: "POST /v1/variants", needs: "variants:write", answers: 400, body: {} },
    { route: "PATCH /v1/variants/no-such-variant", needs: "variants:write", answers: 404, body: {} },
    { route: "DELETE /v1/variants/no-such-variant", needs: "variants:write", answers: 404 },
    { route: "GET /v1/keys", needs: "keys:write", answers: 200 },
    { route: "PUT /v1/keys/scoped", needs: "keys:write", answers: 200 },
    { route: "DELETE /v1/keys/no-such-key", needs: "keys:write", answers: 404 },
  ];
  const holders = {} as Record<Scope, string>;

  beforeAll(async () => {
    for (const scope of SCOPES) holders[scope] = (await createToken({ name: `only ${scope}`, scopes: [scope] })).value;
  });

  const call = (route: string, token: string, body?: unknown) => {
    const [method, path] = route.split(" ");
    const init: RequestInit = { method, headers: { ...bearer(token), "content-type": "application/json" } };
    if (body !== undefined) init.body = JSON.stringify(body);
    return api(path, init);
  };

  it.each(ROUTES)("$route needs $needs and no other scope", async ({ route, needs, answers, body }) => {
    for (const scope of SCOPES) {
      const response = await call(route, holders[scope], body);
      if (scope === needs) {
        expect(response.status, `${route} with ${scope}`).toBe(answers);
        await response.body?.cancel();
      } else if (route.startsWith("HEAD")) {
        expect(response.status, `${route} with ${scope}`).toBe(403);
      } else {
        const refused = await json(response, 403);
        expect(refused.errors[0].message).toBe(`Authentication error: ${route.replace(" ", " /images")} needs the ${needs} scope; this token has ${scope}`);
      }
    }
    // The bootstrap API_TOKEN holds every scope.
    expect((await call(route, "test-token", body)).status).toBe(answers);
  });

  it("keeps a route missing from the table for the bootstrap API_TOKEN", async () => {
    expect(requiredAccess("OPTIONS", "/images/v1")).toBe("admin");
    expect(requiredAccess("POST", "/images/v1/some-image/blob")).toBe("admin");
    expect(requiredAccess("GET", "/images/v3")).toBe("admin");
    const everything = (await createToken({ name: "everything", scopes: [...SCOPES] })).value;
    const refused = await json(await api("/v1/no-such-image", { method: "PUT", headers: bearer(everything) }), 403);
    expect(refused.errors[0].message).toContain("PUT /images/v1/no-such-image is only for the bootstrap API_TOKEN");
    await json(await api("/v1/no-such-image", { method: "PUT" }), 404);
  });
});
