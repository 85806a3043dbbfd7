import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { CONTENT_TYPES, FORMATS, IMAGE_FORMATS, sniffFormat } from "../../wasm/src/formats/index.ts";
import { readJpegMarkers } from "../../wasm/src/formats/jpeg-markers.ts";
import { insertAfterIhdr, pngChunk } from "../../wasm/src/codecs/png-chunks.ts";
import { probeImage } from "../../wasm/src/probe.ts";
import { readJpegHeader } from "../../wasm/src/jpeg.ts";
import { renderTargets, type EngineModules } from "../../wasm/src/engine.ts";
import { loadEngineModules } from "../../wasm/src/modules.node.ts";
import { OUTPUT_FORMATS } from "../../wasm/src/vocabulary.ts";
import { makeFixtures } from "../fixtures/images.ts";
import { W, H, picture } from "./fixtures.ts";

let fixtures: Awaited<ReturnType<typeof makeFixtures>>;
let modules: EngineModules;

beforeAll(async () => {
  fixtures = await makeFixtures();
  modules = await loadEngineModules();
});

const SAMPLES = { jpeg: "landscapeJpeg", png: "alphaPng", gif: "gif", webp: "lossyWebp", avif: "avif", heic: "heic", svg: "scriptedSvg" } as const;

describe("the FORMATS table", () => {
  it("has one module per input format, each sniffing its own files and no other's", () => {
    expect([...IMAGE_FORMATS].sort()).toEqual(Object.keys(SAMPLES).sort());
    for (const format of IMAGE_FORMATS) {
      const bytes = new Uint8Array(fixtures[SAMPLES[format]]);
      for (const other of IMAGE_FORMATS) expect(FORMATS[other].sniff(bytes), `${other} sniffing a ${format}`).toBe(other === format);
      expect(sniffFormat(bytes)).toBe(format);
    }
  });

  it("gives every input and output format its media type, as sharp names the format", async () => {
    for (const format of IMAGE_FORMATS) {
      const meta = await sharp(fixtures[SAMPLES[format]]).metadata();
      const heif = meta.compression === "hevc" ? "heic" : "avif";
      expect(CONTENT_TYPES[format], format).toBe(`image/${meta.format === "heif" ? heif : meta.format === "svg" ? "svg+xml" : meta.format}`);
    }
    for (const format of OUTPUT_FORMATS) expect(CONTENT_TYPES[format]).toMatch(/^image\//);
  });
});

/** `jpeg` with a copy of its EXIF APP1 segment, orientation patched to `orientation`, inserted after the original. */
function withSecondExif(jpeg: Uint8Array, orientation: number): Uint8Array {
  const exif = readJpegMarkers(jpeg, { toEnd: false }).exif!;
  const start = exif.byteOffset - jpeg.byteOffset - 4; // FF E1 and the length precede the payload
  const segment = jpeg.slice(start, start + 4 + exif.length);
  const tiff = 4 + 6;
  const little = segment[tiff] === 0x49;
  const view = new DataView(segment.buffer);
  const ifd = tiff + view.getUint32(tiff + 4, little);
  for (let i = 0; i < view.getUint16(ifd, little); i++) {
    const entry = ifd + 2 + i * 12;
    if (view.getUint16(entry, little) === 0x0112) view.setUint16(entry + 8, orientation, little);
  }
  const out = new Uint8Array(jpeg.length + segment.length);
  out.set(jpeg.subarray(0, start + segment.length));
  out.set(segment, start + segment.length);
  out.set(jpeg.subarray(start + segment.length), start + 2 * segment.length);
  return out;
}

describe("a JPEG is walked once, and every reader of the walk agrees", () => {
  it("with two EXIF segments, the probe and our decoder's header both take the first, and the render follows it", async () => {
    // Before the shared walk, the probe read the first EXIF segment and our decoder's header the last one.
    const bytes = withSecondExif(new Uint8Array(fixtures.rotatedJpeg), 3);
    expect(probeImage(bytes).orientation).toBe(6);
    expect(readJpegHeader(bytes).orientation).toBe(6);
    const header = probeImage(bytes);
    const [out] = await renderTargets(bytes, header, [{ width: 48, height: 64, format: "png", quality: 85, metadata: "none" }], { modules, maxPixels: 1e8 });
    expect([out.width, out.height]).toEqual([48, 64]);
  });

  it("the walk stops at the first scan for the probe and reaches EOI for the engine", () => {
    const bytes = new Uint8Array(fixtures.progressiveJpeg);
    const head = readJpegMarkers(bytes, { toEnd: false });
    expect(head).toMatchObject({ headerEnd: "scan", complete: false, frame: { progressive: true, width: 640, height: 480 } });
    expect(readJpegMarkers(bytes, { toEnd: true }).complete).toBe(true);
    expect(readJpegMarkers(new Uint8Array(fixtures.truncatedJpeg), { toEnd: true }).complete).toBe(false);
  });
});

/** `png` with an eXIf chunk holding `payload`, right after IHDR. */
function withExifChunk(png: Uint8Array, payload: Uint8Array): Uint8Array {
  return insertAfterIhdr(png, pngChunk("eXIf", payload));
}

describe("one EXIF reader for every format", () => {
  it("a PNG eXIf written with the Exif\\0\\0 prefix gives its orientation to the probe and its tags to metadata=keep", async () => {
    const jpeg = await sharp(picture(), { raw: { width: W, height: H, channels: 4 } }).removeAlpha().jpeg()
      .withExifMerge({ IFD0: { Make: "TestCam" } }).withMetadata({ orientation: 8 }).toBuffer();
    const prefixed = readJpegMarkers(new Uint8Array(jpeg), { toEnd: false }).exif!;
    const png = await sharp(picture(), { raw: { width: W, height: H, channels: 4 } }).removeAlpha().png().toBuffer();
    const bytes = withExifChunk(new Uint8Array(png), prefixed);
    const header = probeImage(bytes);
    expect(header.orientation).toBe(8);
    const [out] = await renderTargets(bytes, header, [{ width: H / 4, height: W / 4, format: "jpeg", quality: 85, metadata: "keep" }], { modules, maxPixels: 1e8 });
    // Before, the PNG path handed the prefixed block to the TIFF reader as is, and the tags were dropped.
    expect((await sharp(out.bytes).metadata()).exif?.toString("latin1")).toContain("TestCam");
  });
});
