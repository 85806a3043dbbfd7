import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { imageStorageId, lifePrefixes, MAX_R2_KEY_BYTES, originalKey, renditionKey } from "../../workers/shared/storage.ts";
import { OUTPUT_FORMATS } from "../../workers/shared/transform.ts";

const bytes = (text: string) => new TextEncoder().encode(text).length;
const LONGEST_FORMAT = OUTPUT_FORMATS.reduce((a, b) => (b.length > a.length ? b : a));

/** The longest key the layout builds: renditions/<storage id>/<16-hex life>/<16-hex fingerprint>.<format>. */
const longestKey = (storageId: string) => `renditions/${storageId}/${"f".repeat(16)}/${"f".repeat(16)}.${LONGEST_FORMAT}`;

// Ids up to Cloudflare's 1024 characters, in the shapes that stress a key: plain, escaped, multi-byte, deep.
const LONG_IDS = {
  "900 ASCII letters, the longest kept readable": "a".repeat(900),
  "1024 ASCII letters": "a".repeat(1024),
  "1024 characters that encode to 3 bytes each": "%".repeat(1024),
  "1024 four-byte characters": "😀".repeat(1024),
  "512 one-letter subpaths": Array.from({ length: 512 }, () => "a").join("/"),
};

describe("imageStorageId", () => {
  it("keeps generated UUIDs and plain custom ids as they are", async () => {
    const uuid = crypto.randomUUID();
    expect(await imageStorageId(uuid)).toBe(uuid);
    expect(await imageStorageId("cat.jpg")).toBe("cat.jpg");
  });

  it("escapes subpaths, so one image's prefix never covers another's", async () => {
    const a = await imageStorageId("a");
    const ab = await imageStorageId("a/b");
    expect(ab).toBe("a%2Fb");
    const life = "0123456789abcdef";
    expect(renditionKey({ storageId: ab, life }, "0123456789abcdef", "webp", false).startsWith(`renditions/${a}/`)).toBe(false);
    expect(lifePrefixes({ storageId: ab, life }).some((p) => p.startsWith(`renditions/${a}/`) || p.startsWith(`flexible/${a}/`))).toBe(false);
    expect(originalKey({ storageId: ab, life }).startsWith(`originals/${a}/`)).toBe(false);
  });

  it("keeps the longest key under R2's 1024 bytes for every id up to 1024 characters", async () => {
    for (const [shape, id] of Object.entries(LONG_IDS)) {
      const storageId = await imageStorageId(id);
      expect(storageId, shape).not.toContain("/");
      expect(bytes(longestKey(storageId)), shape).toBeLessThanOrEqual(MAX_R2_KEY_BYTES);
    }
  });

  it("hashes an id only when its escaped form is too long, and the two forms cannot meet", async () => {
    const atBound = "a".repeat(900);
    const overBound = "a".repeat(901);
    expect(await imageStorageId(atBound)).toBe(atBound);
    expect(await imageStorageId(overBound)).toMatch(/^sha256:[0-9a-f]{64}$/);
    // The readable form never has a ':' (encodeURIComponent escapes it), so an id spelling a hash stays distinct.
    const spelled = await imageStorageId(await imageStorageId(overBound));
    expect(spelled).toMatch(/^sha256%3A/);
  });

  it("is deterministic and tells apart ids that differ in one character", async () => {
    const base = "😀".repeat(1000);
    expect(await imageStorageId(base)).toBe(await imageStorageId(base));
    expect(await imageStorageId(`${base}a`)).not.toBe(await imageStorageId(`${base}b`));
    expect(await imageStorageId("A")).not.toBe(await imageStorageId("a"));
  });

  it("gives keys that real R2 stores, lists by prefix and deletes", async () => {
    for (const [shape, id] of Object.entries(LONG_IDS)) {
      const key = longestKey(await imageStorageId(id));
      await env.BUCKET.put(key, "x");
      const listed = await env.BUCKET.list({ prefix: `renditions/${await imageStorageId(id)}/` });
      expect(listed.objects.map((o) => o.key), shape).toEqual([key]);
      await env.BUCKET.delete(key);
    }
  });
});
