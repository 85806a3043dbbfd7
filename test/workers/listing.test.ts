import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { encodeContinuationToken } from "../../workers/gateway/continuation-token.ts";
import { insertImageRecord } from "../../workers/shared/image-records.ts";
import { database } from "../../workers/shared/db.ts";
import { api, json } from "./helpers.ts";

/** Image records straight into D1: listing reads only the records, so no upload or processing is needed. */
async function seed(creator: string, records: { id: string; meta?: unknown }[]) {
  const db = database(env.DB);
  for (const [i, { id, meta }] of records.entries()) {
    await insertImageRecord(db, {
      id,
      creator,
      uploaded: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
      status: "ready",
      meta: (meta ?? {}) as Record<string, unknown>,
    }, 100_000);
  }
}

/** The ids `GET /v2` lists for a query (the creator keeps each test to its own records). */
async function listed(creator: string, filters: string): Promise<string[]> {
  const body = await json(await api(`/v2?sort_order=asc&creator=${creator}&${filters}`));
  return body.result.images.map((image: { id: string }) => image.id);
}

async function refused(query: string): Promise<string> {
  const body = await json(await api(`/v2?${query}`), 400);
  expect(body).toMatchObject({ success: false, result: null, messages: [] });
  return body.errors[0].message;
}

describe("v2 metadata filters", () => {
  beforeAll(async () => {
    await seed("filters", [
      { id: "f-active-5", meta: { status: "active", priority: 5, enabled: true, region: { name: "eu-west" } } },
      { id: "f-active-1", meta: { status: "active", priority: 1, enabled: false, region: { name: "us-east" } } },
      { id: "f-flagged-3.5", meta: { status: "flagged", priority: 3.5, "a b": "spaced", "ключ": "значение" } },
      { id: "f-strings", meta: { status: "5", priority: "5", enabled: "true", region: "eu-west" } },
      { id: "f-typed-oddly", meta: { status: { nested: 1 }, priority: true, enabled: 1 } },
      { id: "f-none" },
    ]);
  });

  it("matches strings with eq and eq:string, numbers with eq:number and booleans with eq:boolean, each only its own type", async () => {
    expect(await listed("filters", "meta.status[eq]=active")).toEqual(["f-active-5", "f-active-1"]);
    expect(await listed("filters", "meta.status[eq:string]=5")).toEqual(["f-strings"]);
    expect(await listed("filters", "meta.priority[eq:number]=5")).toEqual(["f-active-5"]);
    expect(await listed("filters", "meta.priority[eq:number]=3.5")).toEqual(["f-flagged-3.5"]);
    expect(await listed("filters", "meta.enabled[eq:boolean]=true")).toEqual(["f-active-5"]);
    expect(await listed("filters", "meta.enabled[eq:boolean]=false")).toEqual(["f-active-1"]);
    // SQLite reads `true` as 1 and an object as its JSON text; neither may pass for the number or the string.
    expect(await listed("filters", "meta.priority[eq:number]=1")).toEqual(["f-active-1"]);
    expect(await listed("filters", `meta.status[eq]=${encodeURIComponent('{"nested":1}')}`)).toEqual([]);
  });

  it("compares numbers with gt, gte, lt and lte, and combines filters with AND", async () => {
    expect(await listed("filters", "meta.priority[gt]=3")).toEqual(["f-active-5", "f-flagged-3.5"]);
    expect(await listed("filters", "meta.priority[gte:number]=5")).toEqual(["f-active-5"]);
    expect(await listed("filters", "meta.priority[lt:number]=3.5")).toEqual(["f-active-1"]);
    expect(await listed("filters", "meta.priority[lte]=3.5")).toEqual(["f-active-1", "f-flagged-3.5"]);
    expect(await listed("filters", "meta.priority[gte:number]=1&meta.priority[lte:number]=4")).toEqual(["f-active-1", "f-flagged-3.5"]);
    expect(await listed("filters", "meta.priority[eq:number]=5&meta.priority[lte:number]=3")).toEqual([]);
  });

  it("matches any of a pipe-separated list with in and in:number", async () => {
    expect(await listed("filters", "meta.status[in]=flagged|5|gone")).toEqual(["f-flagged-3.5", "f-strings"]);
    expect(await listed("filters", "meta.priority[in:number]=1|3.5")).toEqual(["f-active-1", "f-flagged-3.5"]);
  });

  it("follows nested fields with dots, and keys with spaces or any script", async () => {
    expect(await listed("filters", "meta.region.name[eq]=eu-west")).toEqual(["f-active-5"]);
    expect(await listed("filters", "meta.region[eq]=eu-west")).toEqual(["f-strings"]);
    expect(await listed("filters", `${encodeURIComponent("meta.a b[eq]")}=spaced`)).toEqual(["f-flagged-3.5"]);
    expect(await listed("filters", new URLSearchParams({ "meta.ключ[eq]": "значение" }).toString())).toEqual(["f-flagged-3.5"]);
  });

  it("binds what the client wrote instead of reading it as SQL", async () => {
    expect(await listed("filters", `${encodeURIComponent("meta.status') OR 1=1 --[eq]")}=x`)).toEqual([]);
    expect(await listed("filters", `meta.status[eq]=${encodeURIComponent("' OR '1'='1")}`)).toEqual([]);
    expect(await refused(`meta.priority[in:number]=${encodeURIComponent("1) OR (1=1")}`)).toContain("needs a number");
  });

  it("reads the filters as the SDK writes them", async () => {
    // client.images.v2.list({ meta: { "status[eq]": "active" } }) serialises with qs allowDots and escaped brackets.
    expect(await listed("filters", "meta.status%5Beq%5D=active")).toEqual(["f-active-5", "f-active-1"]);
  });

  it("refuses a malformed filter with 400, naming it", async () => {
    expect(await refused("meta.status=active")).toContain('"meta.status" must be written meta.<field>[<operator>]');
    expect(await refused("meta[eq]=x")).toContain('"meta[eq]"');
    expect(await refused("meta.status[like]=a")).toContain('"meta.status[like]" has an unknown operator');
    expect(await refused("meta.status[gt:string]=a")).toContain("gt compares number values");
    expect(await refused("meta.status[in:boolean]=true")).toContain("in compares string or number values");
    expect(await refused("meta.priority[eq:number]=five")).toContain('needs a number (like 5, -1.5 or 2e3), got "five"');
    expect(await refused("meta.priority[gt]=0x10")).toContain('got "0x10"');
    expect(await refused("meta.priority[in:number]=1||2")).toContain('got ""');
    expect(await refused("meta.enabled[eq:boolean]=yes")).toContain('needs true or false, got "yes"');
    expect(await refused("meta.a..b[eq]=1")).toContain("dot-separated keys");
    expect(await refused(`${encodeURIComponent('meta.a"b[eq]')}=1`)).toContain("without brackets, quotes");
  });

  it("refuses more than 5 filters, 5 levels of nesting or 10 listed values, naming the limit", async () => {
    const six = Array.from({ length: 6 }, (_, i) => `meta.k${i}[eq]=v`).join("&");
    expect(await refused(six)).toContain("at most 5 metadata filters");
    expect(await listed("filters", Array.from({ length: 5 }, (_, i) => `meta.k${i}[eq]=v`).join("&"))).toEqual([]);
    expect(await refused("meta.a.b.c.d.e.f[eq]=1")).toContain("nested 6 levels deep; the limit is 5");
    expect(await listed("filters", "meta.a.b.c.d.e[eq]=1")).toEqual([]);
    expect(await refused(`meta.status[in]=${Array.from({ length: 11 }, (_, i) => i).join("|")}`)).toContain("lists 11 values; the limit is 10");
  });
});

describe("v2 continuation tokens", () => {
  it("walks pages of ids with subpaths, quotes and any script", async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `ünï/"${i}"/猫 ${String(i).padStart(2, "0")}`);
    await seed("walker", ids.map((id) => ({ id })));
    const seen: string[] = [];
    let token: string | null = null;
    do {
      const query: string = `per_page=10&sort_order=asc&creator=walker${token ? `&continuation_token=${token}` : ""}`;
      const page: any = await json(await api(`/v2?${query}`));
      seen.push(...page.result.images.map((image: { id: string }) => image.id));
      token = page.result.continuation_token;
      if (token) expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    } while (token);
    expect(seen).toEqual(ids);
  });

  it("refuses any token this API did not issue with 400, whatever its shape", async () => {
    const b64url = (text: string) => btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    const garbage = [
      "garbage",
      "!!!not-base64!!!",
      "AAAAA",
      b64url("not json"),
      b64url("\u00ff\u00fe"),
      b64url("{}"),
      b64url("null"),
      b64url('"2026-01-01T00:00:00.000Z"'),
      b64url("[1,2]"),
      b64url('["2026-01-01T00:00:00.000Z"]'),
      b64url('["2026-01-01T00:00:00.000Z","a","b"]'),
      b64url('["not a date","a"]'),
      b64url('["2026-01-01T00:00:00.000Z",""]'),
      "A".repeat(100_000),
    ];
    for (const token of garbage) {
      const body = await json(await api(`/v2?continuation_token=${encodeURIComponent(token)}`), 400);
      expect(body.errors[0].message, token.slice(0, 40)).toBe("continuation_token is not one this API issued");
    }
    const issued = encodeContinuationToken({ uploaded: "2026-01-01T00:00:00.000Z", id: "x" });
    expect((await api(`/v2?continuation_token=${issued}`)).status).toBe(200);
  });
});

describe("page and per_page", () => {
  it("take decimal digits only, naming the parameter", async () => {
    for (const text of ["%2012%20", "+5", "0x10", "1e3", "5.0", "-1", "٥"]) {
      for (const [path, name] of [["/v1?page=", "page"], ["/v1?per_page=", "per_page"], ["/v2?per_page=", "per_page"]]) {
        const response = await api(`${path}${text}`);
        const body = await json(response, 400);
        expect(body.errors[0].message, `${path}${text}`).toMatch(new RegExp(`^${name} must be an integer from \\d+ to \\d+ in decimal digits`));
      }
    }
    expect((await json(await api("/v1?page=01&per_page=10"))).result_info).toMatchObject({ page: 1, per_page: 10 });
  });
});
