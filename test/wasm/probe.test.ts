import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { CodecError } from "../../wasm/src/errors.ts";
import { probeImage, sniffFormat } from "../../wasm/src/probe.ts";
import { makeFixtures } from "../fixtures/images.ts";

let fixtures: Awaited<ReturnType<typeof makeFixtures>>;

beforeAll(async () => {
  fixtures = await makeFixtures();
});

describe("probeImage", () => {
  it("reads format, stored size, orientation and alpha of every input format as sharp does", async () => {
    const cases = ["landscapeJpeg", "rotatedJpeg", "progressiveJpeg", "grayscaleJpeg", "alphaPng", "lossyWebp", "alphaWebp", "avif", "gif"] as const;
    for (const name of cases) {
      const bytes = fixtures[name];
      const meta = await sharp(bytes).metadata();
      const header = probeImage(new Uint8Array(bytes));
      expect(header, name).toMatchObject({
        format: meta.format === "heif" ? "avif" : meta.format,
        width: meta.width,
        height: meta.height,
        orientation: meta.orientation ?? 1,
        hasAlpha: meta.hasAlpha,
      });
    }
    expect(probeImage(new Uint8Array(fixtures.progressiveJpeg)).progressive).toBe(true);
  });

  it("reads EXIF orientation from PNG eXIf and WebP EXIF chunks too", async () => {
    for (const format of ["png", "webp"] as const) {
      const bytes = await sharp(fixtures.landscapeJpeg).withMetadata({ orientation: 8 }).toFormat(format).toBuffer();
      expect(probeImage(new Uint8Array(bytes)).orientation, format).toBe(8);
    }
  });

  it("says unsupported for other formats", () => {
    for (const bytes of [fixtures.textFile, Buffer.from("BM6\0\0\0"), Buffer.from("II*\0"), Buffer.alloc(0)]) {
      expect(sniffFormat(new Uint8Array(bytes))).toBeUndefined();
      expect(() => probeImage(new Uint8Array(bytes))).toThrow(CodecError);
    }
  });

  it("never throws anything but CodecError on truncated or bit-flipped headers", () => {
    let random = 12345;
    const next = () => (random = (random * 1103515245 + 12345) >>> 0);
    let parsed = 0;
    let refused = 0;
    for (const [name, original] of Object.entries(fixtures)) {
      const head = new Uint8Array(original.subarray(0, 4096));
      for (let trial = 0; trial < 400; trial++) {
        const bytes = head.slice(0, trial % 3 === 0 ? next() % head.length : head.length);
        for (let flips = next() % 8; flips > 0 && bytes.length > 0; flips--) bytes[next() % bytes.length] = next() & 255;
        try {
          const header = probeImage(bytes);
          expect(Number.isInteger(header.width) && header.width > 0, name).toBe(true);
          expect(Number.isInteger(header.height) && header.height > 0, name).toBe(true);
          parsed++;
        } catch (error) {
          if (!(error instanceof CodecError)) throw new Error(`${name} trial ${trial}: ${String(error)}`);
          refused++;
        }
      }
    }
    // Both outcomes occur: the mutations are neither all harmless nor all fatal.
    expect(parsed).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(100);
  });
});
