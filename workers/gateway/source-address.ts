/**
 * Which hosts an upload-from-URL may reach: a classifier over a URL's host as WHATWG `new URL()` leaves it. The
 * parser has already turned every IPv4 spelling (2130706433, 0177.0.0.1, 0x7f.1, 127.1, full-width digits,
 * percent-escapes, a trailing dot) into dotted decimal and every IPv6 literal into its compressed hex form, so
 * one canonical text per address is classified here; test/workers/source-fetch.test.ts runs the spellings
 * through the parser to keep that true.
 *
 * Names are classified by their text only. Workers have no DNS API, so a public name whose A/AAAA record points
 * at a private or loopback address (`*.nip.io`, `localtest.me`, DNS rebinding) passes this check. On Cloudflare
 * that reaches nothing of ours: a Worker's subrequests leave from Cloudflare's edge to the internet and have no
 * route into a private network unless one is bound (Tunnel, VPC services). Under `wrangler dev` / `npm start` they
 * resolve with the host's resolver and can reach the machine's loopback and LAN; where that matters, set
 * ALLOWED_SOURCES.
 */

export type HostKind =
  | "public"
  | "loopback"
  | "private"
  | "link-local"
  | "shared"
  | "unspecified"
  | "broadcast"
  | "multicast"
  | "documentation"
  | "benchmarking"
  | "reserved"
  | "unique-local"
  | "ipv4-embedded"
  | "local-name";

export interface HostClass {
  kind: HostKind;
  /** The range or naming rule that matched, for the error message (absent for public hosts). */
  rule?: string;
  /** The IPv6 prefix (NAT64, 6to4) that carries the IPv4 address `rule` refers to. */
  via?: string;
}

const DESCRIPTIONS: Record<Exclude<HostKind, "public">, string> = {
  loopback: "a loopback address",
  private: "a private address",
  "link-local": "a link-local address",
  shared: "a carrier-grade NAT (shared) address",
  unspecified: "an unspecified (this-network) address",
  broadcast: "the broadcast address",
  multicast: "a multicast address",
  documentation: "a documentation address",
  benchmarking: "a benchmarking address",
  reserved: "a reserved address",
  "unique-local": "a unique-local IPv6 address",
  "ipv4-embedded": "an IPv6 address that embeds an IPv4 address",
  "local-name": "a name that only resolves inside a local network",
};

/** "127.0.0.1 is a loopback address (127.0.0.0/8)". */
export function describeHost(host: string, found: HostClass): string {
  if (found.kind === "public") return `${host} is public`;
  const via = found.via ? ` embedded in ${found.via}` : "";
  return `${host} is ${DESCRIPTIONS[found.kind]} (${found.rule}${via})`;
}

// IANA IPv4 Special-Purpose Address Registry, the ranges that are not globally reachable; first match wins.
const IPV4_REFUSED: readonly (readonly [string, HostKind])[] = [
  ["0.0.0.0/8", "unspecified"],
  ["10.0.0.0/8", "private"],
  ["100.64.0.0/10", "shared"],
  ["127.0.0.0/8", "loopback"],
  ["169.254.0.0/16", "link-local"], // cloud metadata services (169.254.169.254) live here
  ["172.16.0.0/12", "private"],
  ["192.0.0.0/24", "reserved"], // IETF protocol assignments
  ["192.0.2.0/24", "documentation"],
  ["192.88.99.0/24", "reserved"], // 6to4 relay anycast, deprecated
  ["192.168.0.0/16", "private"],
  ["198.18.0.0/15", "benchmarking"],
  ["198.51.100.0/24", "documentation"],
  ["203.0.113.0/24", "documentation"],
  ["224.0.0.0/4", "multicast"],
  ["255.255.255.255/32", "broadcast"],
  ["240.0.0.0/4", "reserved"],
];

// IANA IPv6 Special-Purpose Address Registry; everything outside global unicast 2000::/3 is refused after these.
const IPV6_REFUSED: readonly (readonly [string, HostKind])[] = [
  ["::/128", "unspecified"],
  ["::1/128", "loopback"],
  ["::ffff:0:0/96", "ipv4-embedded"], // IPv4-mapped, any IPv4 address: a URL never needs this spelling
  ["::/96", "ipv4-embedded"], // IPv4-compatible, deprecated
  ["::ffff:0:0:0/96", "ipv4-embedded"], // IPv4-translated (RFC 2765)
  ["64:ff9b:1::/48", "reserved"], // local-use NAT64 (RFC 8215)
  ["2001::/23", "reserved"], // IETF protocol assignments: Teredo, benchmarking 2001:2::/48, ORCHID
  ["2001:db8::/32", "documentation"],
  ["3fff::/20", "documentation"],
  ["fc00::/7", "unique-local"],
  ["fe80::/10", "link-local"],
  ["ff00::/8", "multicast"],
];

/** Prefixes that route to an IPv4 address carried in the IPv6 one: allowed only when that address is. */
const IPV4_CARRIERS: readonly { prefix: string; extract: (address: bigint) => number }[] = [
  { prefix: "64:ff9b::/96", extract: (a) => Number(a & 0xffffffffn) }, // NAT64 (RFC 6052)
  { prefix: "2002::/16", extract: (a) => Number((a >> 80n) & 0xffffffffn) }, // 6to4 (RFC 3056)
];

const LOCAL_SUFFIXES = ["local", "internal", "home.arpa", "localdomain", "lan"];

/** Classifies a URL's hostname (`URL.hostname`: IPv6 in brackets, names lowercased and in punycode). */
export function classifyHost(hostname: string): HostClass {
  if (hostname.startsWith("[") && hostname.endsWith("]")) return classifyIpv6(hostname.slice(1, -1));
  const ipv4 = parseIpv4(hostname);
  if (ipv4 !== undefined) return classifyIpv4(ipv4);
  return classifyName(hostname);
}

function classifyName(hostname: string): HostClass {
  const name = hostname.toLowerCase().replace(/\.$/, "");
  if (name === "localhost" || name.endsWith(".localhost")) return { kind: "loopback", rule: "localhost names (RFC 6761)" };
  const labels = name.split(".");
  // WHATWG parses a host whose last label is a number as IPv4, or refuses it; one that reaches here did not come
  // through the parser, and is refused rather than guessed at.
  if (/^(0x[0-9a-f]*|[0-9]+)$/.test(labels.at(-1) ?? "")) return { kind: "reserved", rule: "numeric host not in dotted-decimal form" };
  if (labels.length === 1) return { kind: "local-name", rule: "single-label names" };
  const suffix = LOCAL_SUFFIXES.find((s) => name === s || name.endsWith(`.${s}`));
  if (suffix) return { kind: "local-name", rule: `.${suffix}` };
  return { kind: "public" };
}

function classifyIpv4(address: number): HostClass {
  for (const [range, kind] of IPV4_REFUSED) if (inIpv4Range(address, range)) return { kind, rule: range };
  return { kind: "public" };
}

function classifyIpv6(text: string): HostClass {
  const address = parseIpv6(text);
  if (address === undefined) return { kind: "reserved", rule: "unparsable IPv6 literal" };
  for (const [range, kind] of IPV6_REFUSED) if (inIpv6Range(address, range)) return { kind, rule: range };
  for (const carrier of IPV4_CARRIERS) {
    if (!inIpv6Range(address, carrier.prefix)) continue;
    const inner = classifyIpv4(carrier.extract(address));
    return inner.kind === "public" ? inner : { ...inner, via: carrier.prefix };
  }
  if (!inIpv6Range(address, "2000::/3")) return { kind: "reserved", rule: "outside global unicast 2000::/3" };
  return { kind: "public" };
}

/** Dotted decimal only: what the URL parser makes of every IPv4 spelling. */
function parseIpv4(text: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

function inIpv4Range(address: number, cidr: string): boolean {
  const [base, bits] = cidr.split("/");
  const length = Number(bits);
  const mask = length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
  return ((address & mask) >>> 0) === ((parseIpv4(base)! & mask) >>> 0);
}

/** An IPv6 address as a 128-bit number; accepts `::` compression and a trailing dotted-quad IPv4 part. */
function parseIpv6(text: string): bigint | undefined {
  let groups = text.toLowerCase();
  const dotted = /^(.*:)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/.exec(groups);
  if (dotted) {
    const v4 = parseIpv4(dotted[2]);
    if (v4 === undefined) return undefined;
    groups = `${dotted[1]}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = groups.split("::");
  if (halves.length > 2) return undefined;
  const split = (s: string) => (s === "" ? [] : s.split(":"));
  const head = split(halves[0]);
  const tail = halves.length === 2 ? split(halves[1]) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  let value = 0n;
  for (const group of all) {
    if (!/^[0-9a-f]{1,4}$/.test(group)) return undefined;
    value = (value << 16n) | BigInt(parseInt(group, 16));
  }
  return value;
}

function inIpv6Range(address: bigint, cidr: string): boolean {
  const [base, bits] = cidr.split("/");
  const shift = BigInt(128 - Number(bits));
  return address >> shift === parseIpv6(base)! >> shift;
}
