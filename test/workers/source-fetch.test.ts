import { env } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, inject, it, vi } from "vitest";
import { classifyHost, type HostKind } from "../../workers/gateway/source-address.ts";
import { checkSourceUrl, fetchSource } from "../../workers/gateway/source-fetch.ts";
import { parseConfig, type ConfigEnv } from "../../workers/shared/config.ts";
import type { ApiError } from "../../workers/shared/errors.ts";
import type { SourceStats } from "../fixtures/source-server-context.ts";
import { API, AUTH, api, gatewayWith, json } from "./helpers.ts";

// The source server (test/fixtures/source-server.ts) listens on 127.0.0.1; only tests that turn
// ALLOW_LOOPBACK_SOURCES on may reach it. The suite's own config keeps loopback refused, as `npm start` does.
const { origin, closedPort } = inject("sourceServer");
const port = new URL(origin).port;
/** The runtime's fetch, for the tests' own requests to the source server while the code's fetch is watched. */
const realFetch: typeof fetch = globalThis.fetch.bind(globalThis);

const configWith = (vars: Partial<ConfigEnv>) => parseConfig({ ...env, ...vars });
const defaults = configWith({});
/** Loopback allowed, and timeouts short enough for a test to wait them out. */
const LOOPBACK_VARS = { ALLOW_LOOPBACK_SOURCES: "true", SOURCE_HEADERS_TIMEOUT_SECONDS: "1", SOURCE_FETCH_TIMEOUT_SECONDS: "2" };
const loopback = configWith(LOOPBACK_VARS);

async function failure(promise: Promise<unknown>): Promise<ApiError> {
  return promise.then(
    () => {
      throw new Error("expected the fetch to fail");
    },
    (error: ApiError) => error,
  );
}

async function sourceStats(): Promise<SourceStats> {
  return (await (await realFetch(`${origin}/stats`)).json()) as SourceStats;
}

/**
 * Lets the code under test reach the source server and nothing else, and records every URL it tried: a guard
 * that failed to refuse an address shows up here instead of sending a request off the machine.
 */
function recordFetches(): string[] {
  const tried: string[] = [];
  vi.spyOn(globalThis, "fetch").mockImplementation((input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    tried.push(url);
    const local = url.startsWith(`${origin}/`) || url.startsWith(`http://127.0.0.1:${closedPort}/`);
    return local ? realFetch(input, init) : Promise.reject(new Error(`the test does not let the code fetch ${url}`));
  });
  return tried;
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe("source address classifier", () => {
  // Every spelling goes through the URL parser first, as a client's url does: the classifier sees what it sees.
  const cases: [string, HostKind][] = [
    // loopback, however it is spelled
    ["http://127.0.0.1/", "loopback"],
    ["http://127.0.0.2/", "loopback"],
    ["http://127.255.255.254/", "loopback"],
    ["http://2130706433/", "loopback"],
    ["http://0x7f000001/", "loopback"],
    ["http://0177.0.0.1/", "loopback"],
    ["http://0x7f.1/", "loopback"],
    ["http://0x7f.0x0.0x0.0x1/", "loopback"],
    ["http://127.1/", "loopback"],
    ["http://127.000.000.001/", "loopback"],
    ["http://127.0.0.1./", "loopback"],
    ["http://%31%32%37.0.0.1/", "loopback"],
    ["http://１２７.0.0.1/", "loopback"],
    ["http://[::1]/", "loopback"],
    ["http://[0:0:0:0:0:0:0:1]/", "loopback"],
    ["http://localhost/", "loopback"],
    ["http://LOCALHOST./", "loopback"],
    ["http://api.localhost/", "loopback"],
    ["http://a.b.localhost./", "loopback"],
    ["http://ⓛocalhost/", "loopback"],
    // private, shared, link-local, this-network, broadcast, multicast, reserved, documentation, benchmarking
    ["http://10.0.0.1/", "private"],
    ["http://10.255.255.255/", "private"],
    ["http://172.16.0.1/", "private"],
    ["http://172.31.255.255/", "private"],
    ["http://192.168.1.1/", "private"],
    ["http://3232235777/", "private"],
    ["http://100.64.0.1/", "shared"],
    ["http://100.127.255.255/", "shared"],
    ["http://169.254.169.254/", "link-local"],
    ["http://0xa9fea9fe/", "link-local"],
    ["http://0/", "unspecified"],
    ["http://0.0.0.0/", "unspecified"],
    ["http://0.1.2.3/", "unspecified"],
    ["http://255.255.255.255/", "broadcast"],
    ["http://224.0.0.1/", "multicast"],
    ["http://239.255.255.250/", "multicast"],
    ["http://240.0.0.1/", "reserved"],
    ["http://192.0.0.8/", "reserved"],
    ["http://192.88.99.1/", "reserved"],
    ["http://192.0.2.1/", "documentation"],
    ["http://198.51.100.7/", "documentation"],
    ["http://203.0.113.9/", "documentation"],
    ["http://198.18.0.1/", "benchmarking"],
    ["http://198.19.255.255/", "benchmarking"],
    // IPv6
    ["http://[::]/", "unspecified"],
    ["http://[fc00::1]/", "unique-local"],
    ["http://[fd12:3456:789a::1]/", "unique-local"],
    ["http://[fe80::1]/", "link-local"],
    ["http://[febf:ffff::1]/", "link-local"],
    ["http://[ff02::1]/", "multicast"],
    ["http://[2001:db8::1]/", "documentation"],
    ["http://[3fff::1]/", "documentation"],
    ["http://[2001::1]/", "reserved"], // Teredo
    ["http://[2001:2::1]/", "reserved"], // benchmarking
    ["http://[64:ff9b:1::1]/", "reserved"], // local-use NAT64
    ["http://[100::1]/", "reserved"], // discard-only
    ["http://[fec0::1]/", "reserved"], // site-local
    // IPv4 inside IPv6: mapped and compatible forms are refused whatever they carry; NAT64 and 6to4 by what they carry
    ["http://[::ffff:127.0.0.1]/", "ipv4-embedded"],
    ["http://[::ffff:7f00:1]/", "ipv4-embedded"],
    ["http://[0:0:0:0:0:ffff:7f00:1]/", "ipv4-embedded"],
    ["http://[::ffff:8.8.8.8]/", "ipv4-embedded"],
    ["http://[::127.0.0.1]/", "ipv4-embedded"],
    ["http://[::ffff:0:a9fe:a9fe]/", "ipv4-embedded"],
    ["http://[64:ff9b::127.0.0.1]/", "loopback"],
    ["http://[64:ff9b::a9fe:a9fe]/", "link-local"],
    ["http://[2002:7f00:1::1]/", "loopback"],
    ["http://[2002:c0a8:101::1]/", "private"],
    // names that only resolve inside a local network
    ["http://metadata/", "local-name"],
    ["http://intranet./", "local-name"],
    ["http://metadata.google.internal/", "local-name"],
    ["http://printer.local/", "local-name"],
    ["http://router.lan/", "local-name"],
    ["http://nas.home.arpa/", "local-name"],
    // public: the neighbours of every refused range, names and global IPv6
    ["http://8.8.8.8/", "public"],
    ["http://134744072/", "public"],
    ["http://1.1.1.1/", "public"],
    ["http://9.255.255.255/", "public"],
    ["http://11.0.0.0/", "public"],
    ["http://100.63.255.255/", "public"],
    ["http://100.128.0.0/", "public"],
    ["http://126.255.255.255/", "public"],
    ["http://128.0.0.0/", "public"],
    ["http://169.253.255.255/", "public"],
    ["http://172.15.255.255/", "public"],
    ["http://172.32.0.0/", "public"],
    ["http://192.169.0.1/", "public"],
    ["http://198.17.255.255/", "public"],
    ["http://198.20.0.0/", "public"],
    ["http://223.255.255.255/", "public"],
    ["http://[2606:4700:4700::1111]/", "public"],
    ["http://[2a00:1450:4001:82b::200e]/", "public"],
    ["http://[64:ff9b::808:808]/", "public"], // NAT64 of 8.8.8.8
    ["http://[2002:808:808::1]/", "public"], // 6to4 of 8.8.8.8
    ["http://example.com/", "public"],
    ["http://images.example.co.uk./", "public"],
    ["http://localhost.example.com/", "public"],
    ["http://xn--bcher-kva.example/", "public"],
  ];

  it.each(cases)("%s is %s", (spelling, kind) => {
    expect(classifyHost(new URL(spelling).hostname).kind).toBe(kind);
  });

  it("refuses a numeric host the URL parser did not normalise instead of guessing", () => {
    expect(classifyHost("2130706433").kind).toBe("reserved");
    expect(classifyHost("foo.0x7f").kind).toBe("reserved");
  });
});

describe("source URL rules, from the text alone", () => {
  const refusal = (url: string, config = defaults) => {
    try {
      checkSourceUrl(url, config.sources);
    } catch (error) {
      const e = error as ApiError;
      return `${e.status} ${e.message}`;
    }
    return "allowed";
  };

  it("takes http and https only, without credentials", () => {
    for (const url of ["ftp://example.com/a.png", "file:///etc/passwd", "data:image/png;base64,AAAA", "gopher://example.com/"]) {
      expect(refusal(url)).toMatch(/^400 url must be http or https/);
    }
    expect(refusal("https://user:secret@example.com/a.png")).toBe("400 url must not carry credentials (user:password@)");
    expect(refusal("https://example.com/a.png")).toBe("allowed");
    expect(refusal("not a url")).toMatch(/^400 url is not a valid URL/);
  });

  it("names the address rule a refused host breaks", () => {
    expect(refusal("http://2130706433/")).toBe("400 url host 127.0.0.1 is a loopback address (127.0.0.0/8); only public addresses are fetched");
    expect(refusal("http://169.254.169.254/latest/meta-data/")).toContain("link-local address (169.254.0.0/16)");
    expect(refusal("http://[64:ff9b::a9fe:a9fe]/")).toContain("(169.254.0.0/16 embedded in 64:ff9b::/96)");
    expect(refusal("http://localhost./")).toContain("localhost. is a loopback address (localhost names (RFC 6761))");
  });

  it("takes the default port of the scheme only", () => {
    expect(refusal("https://example.com:443/a.png")).toBe("allowed");
    expect(refusal("http://example.com:80/a.png")).toBe("allowed");
    expect(refusal("https://example.com:8443/a.png")).toBe("400 url must use the default https port 443, got port 8443");
    expect(refusal("http://example.com:6379/")).toBe("400 url must use the default http port 80, got port 6379");
  });

  it("with ALLOWED_SOURCES, takes only URLs under one of its prefixes, and the ports they name", () => {
    const listed = configWith({ ALLOWED_SOURCES: "https://cdn.example.com, https://media.example.org:8443/public/" });
    expect(refusal("https://cdn.example.com/a.png", listed)).toBe("allowed");
    expect(refusal("https://media.example.org:8443/public/a.png", listed)).toBe("allowed");
    expect(refusal("https://cdn.example.com.evil.example/a.png", listed)).toBe("400 url must start with one of the prefixes in ALLOWED_SOURCES");
    expect(refusal("https://media.example.org/public/a.png", listed)).toContain("ALLOWED_SOURCES");
    expect(refusal("https://media.example.org:8443/private/a.png", listed)).toContain("ALLOWED_SOURCES");
    // A prefix never widens the address rules.
    expect(refusal("http://10.0.0.1/a.png", configWith({ ALLOWED_SOURCES: "http://10.0.0.1/" }))).toContain("private address");
  });

  it("with ALLOW_LOOPBACK_SOURCES, takes loopback on any port, and nothing else that is not public", () => {
    expect(refusal(`${origin}/image.png`, loopback)).toBe("allowed");
    expect(refusal(`http://localhost:${port}/image.png`, loopback)).toBe("allowed");
    expect(refusal("http://[::1]:8080/", loopback)).toBe("allowed");
    expect(refusal("http://10.0.0.1/", loopback)).toContain("private address");
    expect(refusal("http://169.254.169.254/", loopback)).toContain("link-local address");
    expect(refusal("http://[::ffff:127.0.0.1]/", loopback)).toContain("embeds an IPv4 address");
    expect(refusal("http://[64:ff9b::7f00:1]/", loopback)).toContain("embedded in 64:ff9b::/96");
  });

  it("refuses invalid configuration at parse time", () => {
    expect(() => configWith({ ALLOW_LOOPBACK_SOURCES: "yes" })).toThrow("ALLOW_LOOPBACK_SOURCES must be true or false");
    expect(() => configWith({ ALLOWED_SOURCES: "cdn.example.com" })).toThrow("is not a URL");
    expect(() => configWith({ ALLOWED_SOURCES: "https://u:p@cdn.example.com/" })).toThrow("without credentials");
    expect(() => configWith({ SOURCE_HEADERS_TIMEOUT_SECONDS: "40" })).toThrow("must not exceed SOURCE_FETCH_TIMEOUT_SECONDS");
    expect(() => configWith({ UPLOAD_BODY_TIMEOUT_SECONDS: "0" })).toThrow("UPLOAD_BODY_TIMEOUT_SECONDS must be a positive integer");
  });
});

describe("upload from url through the API", () => {
  const uploadFrom = (url: string) => {
    const form = new FormData();
    form.append("url", url);
    return api("/v1", { method: "POST", body: form });
  };

  it("refuses loopback, however spelled, and the metadata address before any fetch", async () => {
    const tried = recordFetches();
    const before = await sourceStats();
    const cases = [
      [`http://127.0.0.1:${port}/image.png`, "127.0.0.1 is a loopback address"],
      [`http://2130706433:${port}/image.png`, "127.0.0.1 is a loopback address"],
      [`http://0x7f.1:${port}/image.png`, "127.0.0.1 is a loopback address"],
      [`http://127.0.0.2:${port}/image.png`, "127.0.0.2 is a loopback address"],
      [`http://[::1]:${port}/image.png`, "[::1] is a loopback address"],
      [`http://[::ffff:127.0.0.1]:${port}/image.png`, "[::ffff:7f00:1] is an IPv6 address that embeds an IPv4 address"],
      [`http://localhost:${port}/image.png`, "localhost is a loopback address"],
      [`http://LocalHost.:${port}/image.png`, "localhost. is a loopback address"],
      ["http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local address"],
    ];
    for (const [url, message] of cases) {
      const body = await json(await uploadFrom(url), 400);
      expect(body.errors[0].message, url).toContain(message);
    }
    expect(tried).toEqual([]);
    expect((await sourceStats()).hits["/image.png"]).toBe(before.hits["/image.png"]);
  });

  it("uploads from a loopback source when ALLOW_LOOPBACK_SOURCES is on", async () => {
    const form = new FormData();
    form.append("url", `${origin}/hops/1`);
    form.append("id", "from-url");
    const response = await gatewayWith(LOOPBACK_VARS, `${API}/v1`, { method: "POST", body: form, headers: AUTH });
    const body = await json(response);
    expect(body.result).toMatchObject({ id: "from-url", filename: "1" });
    const blob = await api("/v1/from-url/blob");
    expect(blob.headers.get("content-type")).toBe("image/png");
    const original = new Uint8Array(await (await realFetch(`${origin}/image.png`)).arrayBuffer());
    expect(new Uint8Array(await blob.arrayBuffer())).toEqual(original);
  });
});

describe("fetching a source", () => {
  let tried: string[];
  beforeEach(() => {
    tried = recordFetches();
  });

  it("fetches the image, named after the last path segment of the url asked for", async () => {
    const source = await fetchSource(`${origin}/image.png`, loopback);
    expect(source.filename).toBe("image.png");
    expect(Array.from(source.bytes.subarray(0, 4))).toEqual([0x89, 0x50, 0x4e, 0x47]);
  });

  it("follows up to 5 redirects, checking each hop, and refuses a sixth", async () => {
    await fetchSource(`${origin}/hops/5`, loopback);
    expect(tried).toHaveLength(6);
    const error = await failure(fetchSource(`${origin}/hops/6`, loopback));
    expect(error.status).toBe(422);
    expect(error.message).toContain("at most 5 redirects");
  });

  it("refuses a redirect from a public source to loopback when loopback is not allowed", async () => {
    const before = await sourceStats();
    vi.mocked(globalThis.fetch).mockImplementation((input, init) => {
      const url = String(input instanceof Request ? input.url : input);
      tried.push(url);
      if (url === "https://images.example.com/photo.png") {
        return Promise.resolve(new Response(null, { status: 302, headers: { location: `http://2130706433:${port}/image.png` } }));
      }
      return url.startsWith(`${origin}/`) ? realFetch(input, init) : Promise.reject(new Error(`not letting the code fetch ${url}`));
    });
    const error = await failure(fetchSource("https://images.example.com/photo.png", defaults));
    expect(error.status).toBe(422);
    expect(tried).toEqual(["https://images.example.com/photo.png"]);
    expect((await sourceStats()).hits["/image.png"]).toBe(before.hits["/image.png"]);
  });

  it("refuses redirects to private, link-local and credentialed addresses, even with loopback allowed, without fetching them", async () => {
    for (const location of ["http://10.0.0.1/a.png", "http://169.254.169.254/latest/meta-data/", "http://[::ffff:10.0.0.1]/", `http://user:pw@127.0.0.1:${port}/image.png`, "ftp://example.com/a.png"]) {
      const error = await failure(fetchSource(`${origin}/to?location=${encodeURIComponent(location)}`, loopback));
      expect(error.status, location).toBe(422);
    }
    expect(tried.every((url) => url.startsWith(`${origin}/to?`))).toBe(true);
  });

  it("with ALLOWED_SOURCES, checks every hop against the prefixes", async () => {
    const listed = configWith({ ...LOOPBACK_VARS, ALLOWED_SOURCES: `${origin}/hops/,${origin}/to` });
    await fetchSource(`${origin}/hops/2`, listed);
    const error = await failure(fetchSource(`${origin}/to?location=${encodeURIComponent(`${origin}/image.png`)}`, listed));
    expect(error.status).toBe(422);
    expect(tried.filter((url) => url.endsWith("/image.png"))).toEqual([]);
  });

  it("gives up on a source that never answers after SOURCE_HEADERS_TIMEOUT_SECONDS", async () => {
    const started = Date.now();
    const error = await failure(fetchSource(`${origin}/hang`, loopback));
    expect(error.status).toBe(422);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(Date.now() - started).toBeLessThan(1900);
  });

  it("gives up on a body that stalls after SOURCE_FETCH_TIMEOUT_SECONDS", async () => {
    const started = Date.now();
    const error = await failure(fetchSource(`${origin}/stall-body`, loopback));
    expect(error.status).toBe(422);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it("cuts an endless body off at MAX_UPLOAD_BYTES with 413, and stops reading it", async () => {
    const error = await failure(fetchSource(`${origin}/endless`, loopback));
    expect(error.status).toBe(413);
    expect(error.message).toBe("the image at url is larger than the upload limit of 10.0 MB (MAX_UPLOAD_BYTES)");
    await vi.waitFor(async () => expect((await sourceStats()).endlessOpen).toBe(0), { timeout: 5000 });
    const written = (await sourceStats()).endlessBytes.at(-1)!;
    // Socket buffers and the time until the server sees the cut add some MB (over 20 on a loaded machine, seen in
    // CI); an unbounded reader would have taken all of the server's 256 MB.
    expect(written).toBeLessThan(loopback.limits.maxUploadBytes + 64 * 1024 * 1024);
  });

  it("refuses a body whose Content-Length is over MAX_UPLOAD_BYTES before reading it", async () => {
    const error = await failure(fetchSource(`${origin}/declared-big`, loopback));
    expect(error.status).toBe(413);
    expect(error.message).toBe("the image at url is 64.0 MB; the upload limit is 10.0 MB (MAX_UPLOAD_BYTES)");
  });

  it("answers every failure to fetch with one status and one message", async () => {
    const urls = [
      `http://127.0.0.1:${closedPort}/image.png`, // connection refused
      `${origin}/status/404`,
      `${origin}/status/500`,
      `${origin}/status/304`,
      `${origin}/to`, // a redirect without a Location
      `${origin}/to?location=${encodeURIComponent("http://192.168.0.1/")}`,
      `${origin}/hops/6`,
      `${origin}/hang`,
      `${origin}/stall-body`,
    ];
    const answers = new Set<string>();
    for (const url of urls) {
      const error = await failure(fetchSource(url, loopback));
      answers.add(`${error.status} ${error.message}`);
    }
    expect([...answers]).toEqual([
      "422 could not fetch url: the source must answer 2xx from a public address within 1 s, following at most 5 redirects, and send the image within 2 s",
    ]);
  });
});
