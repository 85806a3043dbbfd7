// JPEG as phones and cameras write it: Ultra HDR / MPF files (a primary image with a gain map appended) render
// their primary image on both decoders; codings neither decoder implements are refused by the probe, from the
// header, so an upload of one is answered 415 instead of being accepted and failed later.
import { beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import sharp from "sharp";
import { renderTargets, type EngineModules, type RenderTarget } from "../../wasm/src/engine.ts";
import { loadEngineModules } from "../../wasm/src/modules.node.ts";
import { probeImage } from "../../wasm/src/probe.ts";
import { readJpegMarkers } from "../../wasm/src/formats/jpeg-markers.ts";
import { CodecError } from "../../wasm/src/errors.ts";
import { H, W, picture } from "./fixtures.ts";
import { expectCodecError } from "./measure.ts";
import { containsAscii, countImages, imageStarts, withGainMap } from "../fixtures/jpeg-mpf.ts";

const maxPixels = 100_000_000;
const target = (t: Partial<RenderTarget> & Pick<RenderTarget, "width" | "height" | "format">): RenderTarget => ({ quality: 85, metadata: "none", ...t });

/** The primary: baseline, upright, EXIF naming its camera. */
const primaryJpeg = async () =>
  new Uint8Array(await sharp(picture(), { raw: { width: W, height: H, channels: 4 } }).removeAlpha().jpeg({ quality: 90 })
    .withExif({ IFD0: { Make: "PrimaryCam", Artist: "primary" } }).toBuffer());

/**
 * The gain map: everything about it differs from the primary (size, progressive SOF2, grey, EXIF orientation 6),
 * so a reader that took any of its markers for the primary's would show it.
 */
const gainMapJpeg = async () =>
  new Uint8Array(await sharp({ create: { width: 120, height: 90, channels: 3, background: "#808080" } }).greyscale()
    .jpeg({ quality: 70, progressive: true }).withExif({ IFD0: { Make: "GainMapCam", Orientation: "6" } }).toBuffer());

describe("Ultra HDR / MPF JPEGs (primary image + gain map)", () => {
  let primary: Uint8Array, gainMap: Uint8Array;
  const files: Record<string, Uint8Array> = {};
  beforeAll(async () => {
    [primary, gainMap] = [await primaryJpeg(), await gainMapJpeg()];
    files.mpf = withGainMap(primary, gainMap);
    files.ultraHdr = withGainMap(primary, gainMap, { ultraHdr: true });
  });

  it("the fixtures really are two images with an MPF index (and hdrgm XMP for Ultra HDR)", () => {
    for (const file of Object.values(files)) {
      expect(countImages(file)).toBe(2);
      expect(containsAscii(file, "MPF\0")).toBe(true);
    }
    expect(containsAscii(files.ultraHdr, "hdr-gain-map")).toBe(true);
  });

  it.each(["mpf", "ultraHdr"])("%s: the probe reads the primary's frame and EXIF, never the gain map's", (name) => {
    const header = probeImage(files[name]);
    expect(header).toMatchObject({ format: "jpeg", width: W, height: H, orientation: 1, progressive: false, animated: false });
  });

  it.each(["mpf", "ultraHdr"])("%s: the marker walk ends at the primary's EOI", (name) => {
    const markers = readJpegMarkers(files[name], { toEnd: true });
    expect(markers.complete).toBe(true);
    expect(markers.end).toBe(imageStarts(files[name])[1]);
    expect(markers.frameCount).toBe(1);
  });

  describe.each([
    { path: "our JPEG kernel", useKernels: true },
    { path: "mozjpeg (jSquash only)", useKernels: false },
  ])("rendered with $path", ({ useKernels }) => {
    let modules: EngineModules;
    beforeAll(async () => {
      modules = await loadEngineModules({ kernels: useKernels });
    });
    const render = (input: Uint8Array, targets: RenderTarget[]) =>
      renderTargets(input, probeImage(input), targets, { modules, maxPixels });

    it.each(["mpf", "ultraHdr"])("%s renders exactly as the primary alone, at full size and shrunk on load", async (name) => {
      const targets = [target({ width: W, height: H, format: "png" }), target({ width: 120, height: 80, format: "png" })];
      const [alone, withMap] = [await render(primary, targets), await render(files[name], targets)];
      expect(withMap.map((o) => [o.width, o.height])).toEqual([[W, H], [120, 80]]);
      for (const [i, out] of withMap.entries()) expect(Buffer.from(out.bytes).equals(Buffer.from(alone[i].bytes))).toBe(true);
    });

    it("metadata=keep carries the primary's EXIF, and neither the MPF index nor the gain map", async () => {
      const [jpeg, webp] = await render(files.ultraHdr, [target({ width: 240, height: 160, format: "jpeg", metadata: "keep" }), target({ width: 240, height: 160, format: "webp", metadata: "keep" })]);
      for (const out of [jpeg, webp]) {
        expect(containsAscii(out.bytes, "PrimaryCam")).toBe(true);
        expect(containsAscii(out.bytes, "GainMapCam")).toBe(false);
        expect(containsAscii(out.bytes, "MPF\0")).toBe(false);
        expect(containsAscii(out.bytes, "hdr-gain-map")).toBe(false);
      }
      expect(countImages(jpeg.bytes)).toBe(1);
      expect((await sharp(jpeg.bytes).metadata()).orientation ?? 1).toBe(1);
    });

    it("a primary cut short before its EOI is corrupt, even though the gain map after it ends with one", async () => {
      const cut = primary.subarray(0, Math.floor(primary.length * 0.7));
      const file = withGainMap(cut, gainMap);
      const error = await render(file, [target({ width: 120, height: 80, format: "png" })]).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(CodecError);
      expect((error as CodecError).kind).toBe("corrupt");
      expect((error as CodecError).message).toMatch(/truncated/);
    });
  });
});

describe("codings neither decoder implements are refused by the probe, by name", () => {
  // Real arithmetic-coded files (test/fixtures/jpeg/README.md says how they were made); the others are a sharp
  // JPEG with its frame header's marker or precision patched, as no encoder at hand writes them.
  const fixture = (name: string) => new Uint8Array(readFileSync(new URL(`../fixtures/jpeg/${name}`, import.meta.url)));

  it.each(["arithmetic-baseline.jpg", "arithmetic-progressive.jpg"])("%s: arithmetic-coded JPEG", (name) => {
    const bytes = fixture(name);
    expect(readJpegMarkers(bytes, { toEnd: false }).frame?.arithmetic).toBe(true);
    expectCodecError(() => probeImage(bytes), "unsupported", /arithmetic-coded JPEG \(SOF(9|10)\)/);
  });

  let baseline: Uint8Array;
  beforeAll(async () => {
    baseline = await primaryJpeg();
  });
  const patched = (marker: number, precision = 8) => {
    const bytes = baseline.slice();
    const sof = bytes.findIndex((v, i) => v === 0xff && bytes[i + 1] === 0xc0);
    bytes[sof + 1] = marker;
    bytes[sof + 4] = precision;
    return bytes;
  };

  it.each([
    ["SOF9 (arithmetic sequential)", 0xc9, 8, /arithmetic-coded JPEG \(SOF9\)/],
    ["SOF1 at 12 bits", 0xc1, 12, /12-bit JPEG/],
    ["SOF2 at 12 bits", 0xc2, 12, /12-bit JPEG/],
    ["SOF3 (lossless)", 0xc3, 8, /lossless JPEG \(SOF3\)/],
    ["SOF7 (lossless, hierarchical)", 0xc7, 8, /lossless JPEG \(SOF7\)/],
    ["SOF11 (lossless, arithmetic)", 0xcb, 8, /lossless JPEG \(SOF11\)/],
    ["SOF15 (lossless, hierarchical, arithmetic)", 0xcf, 8, /lossless JPEG \(SOF15\)/],
    ["SOF5 (hierarchical)", 0xc5, 8, /hierarchical JPEG \(SOF5\)/],
  ] as const)("%s", (_, marker, precision, message) => {
    expectCodecError(() => probeImage(patched(marker, precision)), "unsupported", message);
  });

  it("an extended-sequential 8-bit SOF1, which both decoders read, still probes", () => {
    expect(probeImage(patched(0xc1))).toMatchObject({ width: W, height: H });
  });
});
