// The console's plain-JS modules that restate something the gateway defines (a browser cannot import its
// TypeScript): they must say the same thing.
import { describe, expect, it } from "vitest";
import { parseDuration, signUrl as signInConsole } from "../../console/js/signing.js";
import {
  FITS as CONSOLE_FITS,
  MAX_METADATA_FILTERS as CONSOLE_MAX_METADATA_FILTERS,
  METADATA_FILTER_OPERATORS,
  METADATA_MODES as CONSOLE_METADATA_MODES,
} from "../../console/js/vocabulary.js";
import { MAX_METADATA_FILTERS, parseMetadataFilters } from "../../workers/gateway/list-filters.ts";
import { signUrl, verifySignedUrl } from "../../workers/gateway/delivery/signing.ts";
import { FITS, METADATA_MODES } from "../../workers/shared/transform.ts";

const KEY = "3f".repeat(32);

describe("the console's URL signer", () => {
  it.each([
    "https://images.example/cdn-cgi/imagedelivery/hash/photo/public",
    "https://images.example/cdn-cgi/imagedelivery/hash/album/2024/a%20b.jpg/w=320,h=320,fit=cover",
    "https://images.example/cdn-cgi/imagedelivery/hash/photo/public?sig=stale&x=1",
  ])("signs %s exactly as the gateway does, and the gateway accepts it", async (url) => {
    const at = Date.UTC(2030, 0, 1);
    const fromConsole = await signInConsole(new URL(url), KEY, at);
    expect(String(fromConsole)).toBe(String(await signUrl(new URL(url), KEY, at)));
    await expect(verifySignedUrl(fromConsole, [KEY], at - 1000)).resolves.toBeUndefined();
    await expect(verifySignedUrl(fromConsole, ["00".repeat(32)], at - 1000)).rejects.toThrow("does not match");
  });

  it("signs without an expiry when none is given", async () => {
    const url = "https://images.example/cdn-cgi/imagedelivery/hash/photo/public";
    const signed = await signInConsole(new URL(url), KEY);
    expect(signed.searchParams.has("exp")).toBe(false);
    expect(String(signed)).toBe(String(await signUrl(new URL(url), KEY)));
  });

  it("reads expiries written like 90s, 15m, 1h, 7d and 2w, and nothing else", () => {
    expect([parseDuration("90s"), parseDuration("15m"), parseDuration("1h"), parseDuration("7d"), parseDuration("2w")]).toEqual([90, 900, 3600, 604_800, 1_209_600]);
    for (const bad of ["", "1", "h", "1.5h", "-1h", "1y", "1 h x"]) expect(parseDuration(bad), bad).toBeUndefined();
  });
});

describe("the console's variant vocabulary", () => {
  it("offers exactly the fits and metadata modes the API accepts", () => {
    expect(CONSOLE_FITS).toEqual([...FITS]);
    expect(CONSOLE_METADATA_MODES).toEqual([...METADATA_MODES]);
  });

  it("offers metadata filter operators the v2 list accepts, as many filters as it takes", () => {
    expect(CONSOLE_MAX_METADATA_FILTERS).toBe(MAX_METADATA_FILTERS);
    const sample: Record<string, string> = { number: "2", boolean: "true" };
    for (const [operator] of METADATA_FILTER_OPERATORS) {
      const type = operator.split(":")[1];
      const value = type ? sample[type] : ["gt", "gte", "lt", "lte"].includes(operator) ? "2" : "a";
      expect(() => parseMetadataFilters(new URLSearchParams([[`meta.album[${operator}]`, value]])), operator).not.toThrow();
    }
  });
});
