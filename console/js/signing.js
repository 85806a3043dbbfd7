// Signed delivery URLs, in the browser (the console) and in Node (the CLI), with WebCrypto only. The algorithm is
// the gateway's (workers/gateway/delivery/signing.ts): `sig` is the hex HMAC-SHA256, keyed with the signing key's
// text, of the path + "?" + the query without `sig`; `exp` is a unix time. test/workers/console-modules.test.ts
// checks that the gateway accepts what this signs.

const encoder = new TextEncoder();

/** The text a signature covers: path + "?" + the query string with the `sig` parameter removed. */
export function signedMessage(url) {
  const query = url.search
    .slice(1)
    .split("&")
    .filter((part) => part !== "" && !part.startsWith("sig="))
    .join("&");
  return `${url.pathname}?${query}`;
}

/** `url` signed with `key` (a signing key's value), valid until `expiresAt` (ms since the epoch) or for ever. */
export async function signUrl(url, key, expiresAt) {
  const signed = new URL(url);
  signed.searchParams.delete("sig");
  if (expiresAt !== undefined) signed.searchParams.set("exp", String(Math.floor(expiresAt / 1000)));
  const cryptoKey = await crypto.subtle.importKey("raw", encoder.encode(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", cryptoKey, encoder.encode(signedMessage(signed))));
  signed.searchParams.set("sig", [...mac].map((b) => b.toString(16).padStart(2, "0")).join(""));
  return signed;
}

const UNITS = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** Seconds in a duration written `90s`, `15m`, `1h`, `7d` or `2w`; undefined when it is not one. */
export function parseDuration(text) {
  const m = /^(\d{1,7})([smhdw])$/.exec(String(text).trim());
  return m ? Number(m[1]) * UNITS[m[2]] : undefined;
}
