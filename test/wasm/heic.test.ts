// HEIC input: the probe from the box tree, libheif-js's decode against heif-convert's PNGs (libheif 1.15.1, the
// fixtures' README), each orientation case, alpha, grids, damaged files and bombs, and the decoder's memory model
// against measured peaks on iPhone-sized grids.
import { readFileSync } from "node:fs";
import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { FORMATS, sniffFormat } from "../../wasm/src/formats/index.ts";
import { heicLayout, libheifDecoder } from "../../wasm/src/formats/heic.ts";
import { probeImage } from "../../wasm/src/probe.ts";
import { orient } from "../../wasm/src/orient.ts";
import { CodecError } from "../../wasm/src/errors.ts";
import { decodeContext, renderTargets, type EngineModules, type RenderReport, type RenderTarget } from "../../wasm/src/engine.ts";
import { admitRender } from "../../wasm/src/admission.ts";
import { loadEngineModules } from "../../wasm/src/modules.node.ts";
import type { Raster } from "../../wasm/src/raster.ts";
import { expectCodecError, psnr } from "./measure.ts";
import { ispe, irot, muxHeif, readCodedTile, tiledHeif } from "../fixtures/heic/heif-mux.ts";

const dir = new URL("../fixtures/heic/", import.meta.url);
const heic = (name: string) => new Uint8Array(readFileSync(new URL(`${name}.heic`, dir)));
/** heif-convert's decode of the fixture, with libheif's transformations applied (what a viewer shows). */
async function reference(name: string): Promise<Raster> {
  const { data, info } = await sharp(readFileSync(new URL(`${name}.png`, dir))).raw({ depth: "uchar" }).toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height, channels: info.channels as 3 | 4 };
}

let modules: EngineModules;
beforeAll(async () => {
  modules = await loadEngineModules();
});

/** Decodes with our decoder and orients as the engine does: the image a viewer shows. */
async function decodeShown(bytes: Uint8Array): Promise<Raster> {
  const header = probeImage(bytes);
  const reading = FORMATS.heic.read(bytes, header, modules);
  const { raster } = await reading.decoders[0].decode(1, decodeContext(modules, header.hasAlpha, 1e8));
  return orient(raster, header.orientation);
}

// libheif-js 1.23 and heif-convert 1.15 share libde265; their YCbCr→RGB conversions differ by a rounding step.
const MIN_PSNR_DB = 45;

describe("HEIC sniffing", () => {
  it("takes heic/mif1 files and leaves AVIF's (which carry mif1 too) to AVIF", async () => {
    expect(sniffFormat(heic("plain-64x48"))).toBe("heic");
    const avif = new Uint8Array(await sharp({ create: { width: 8, height: 8, channels: 3, background: "red" } }).avif().toBuffer());
    expect(sniffFormat(avif)).toBe("avif");
    expect(FORMATS.heic.sniff(avif)).toBe(false);
    const mif1Only = muxHeif({ brand: "mif1", compatible: ["mif1"], primary: 1, items: [], refs: [] });
    expect(FORMATS.heic.sniff(mif1Only)).toBe(true);
  });
});

describe("the HEIC probe", () => {
  it("reads a plain heif-enc file (a 1×1 grid with its description in idat) without decoding", () => {
    expect(probeImage(heic("plain-64x48"))).toEqual({ format: "heic", width: 64, height: 48, orientation: 1, hasAlpha: false, progressive: false, animated: false });
    expect(heicLayout(heic("plain-64x48")).grid).toEqual({ rows: 1, columns: 1, tileWidth: 64, tileHeight: 64 });
  });

  it("reads a grid's tiling and output size", () => {
    const layout = heicLayout(heic("grid-2x2-120x100"));
    expect([layout.width, layout.height]).toEqual([120, 100]);
    expect(layout.grid).toEqual({ rows: 2, columns: 2, tileWidth: 64, tileHeight: 64 });
  });

  it("finds the alpha auxiliary image", () => {
    expect(probeImage(heic("alpha-64x64")).hasAlpha).toBe(true);
    expect(probeImage(heic("single-64x64")).hasAlpha).toBe(false);
  });

  it.each([
    ["irot90-100x64", 8],
    ["irot270-100x64", 6],
    ["imir-horizontal-100x64", 2],
    ["irot90-imir-vertical-100x64", 5],
    ["irot270-exif6-100x64", 6],
    ["exif6-only-100x64", 1],
  ] as const)("turns irot/imir into the orientation to apply, ignoring EXIF's (%s → %i)", (name, orientation) => {
    const header = probeImage(heic(name));
    expect(header.orientation).toBe(orientation);
    expect([header.width, header.height]).toEqual([100, 64]); // stored size, as for JPEG and AVIF
  });

  it("reports the clean aperture's size as the stored size", () => {
    expect(heicLayout(heic("clap-89x50-irot90-100x64"))).toMatchObject({ width: 89, height: 50, crop: { left: 5, top: 7 }, orientation: 8 });
  });

  it("reads the Exif item for the outputs' metadata", () => {
    const bytes = heic("irot270-exif6-100x64");
    const tiff = FORMATS.heic.read(bytes, probeImage(bytes), modules).exif();
    expect(Array.from(tiff!.subarray(0, 4))).toEqual([0x4d, 0x4d, 0, 42]);
    expect(FORMATS.heic.read(heic("irot90-100x64"), probeImage(heic("irot90-100x64")), modules).exif()).toBeUndefined();
  });

  it("calls a file cut inside its meta box corrupt (so a prefix read reads on)", () => {
    const bytes = heic("grid-2x2-120x100");
    expectCodecError(() => probeImage(bytes.subarray(0, 200)), "corrupt", /HEIF meta box is truncated/);
  });

  it("throws nothing but CodecError on any truncation or bit flip of the box tree", () => {
    for (const name of ["plain-64x48", "alpha-64x64", "grid-2x2-120x100", "irot270-exif6-100x64", "clap-89x50-irot90-100x64"]) {
      const bytes = heic(name);
      const meta = bytes.length - 300; // the boxes before mdat
      const tries: Uint8Array[] = [];
      for (let n = 0; n < meta; n++) tries.push(bytes.subarray(0, n));
      for (let at = 0; at < meta; at++) {
        for (const bit of [0x01, 0x80]) {
          const flipped = bytes.slice();
          flipped[at] ^= bit;
          tries.push(flipped);
        }
      }
      for (const t of tries) {
        try {
          const header = probeImage(t);
          FORMATS.heic.read(t, header, modules).exif();
        } catch (e) {
          if (!(e instanceof CodecError)) throw new Error(`${name}: ${t.length} bytes: ${e}`);
        }
      }
    }
  });

  it("refuses an image sequence without a still image by name", () => {
    const sequence = new Uint8Array([...heic("plain-64x48").subarray(0, 28), 0, 0, 0, 8, ...new TextEncoder().encode("moov")]);
    expectCodecError(() => probeImage(sequence), "unsupported", /image sequences are not supported/);
  });

  it("refuses a grid whose tiles are far larger than its output (a bomb), by name", () => {
    const tile = readCodedTile(heic("tile-512x512"));
    // 16×16 tiles of 512×512 (67 MP decoded) shown as a 600×600 image: 255 of them never visible.
    expectCodecError(() => probeImage(tiledHeif(tile, 16, 16, 600, 600)), "limit", /HEIF grid of 16×16 tiles of 512×512 is far larger than its 600×600 output/);
  });

  it("refuses an HEVC stream coding frames far larger than its item's extent (a bomb), by name", () => {
    const tile = readCodedTile(heic("tile-512x512"));
    const lying = muxHeif({ primary: 1, items: [{ id: 1, type: "hvc1", data: tile.data, properties: [tile.hvcC, ispe(16, 16)] }], refs: [] });
    expectCodecError(() => probeImage(lying), "limit", /HEVC stream codes 512×512 frames, far larger than its 16×16 extent/);
  });

  it("gives the primary image's size to the upload limits (a 100 MP grid is 100 MP)", () => {
    const tile = readCodedTile(heic("tile-512x512"));
    const header = probeImage(tiledHeif(tile, 20, 20, 10_000, 10_000));
    expect(header.width * header.height).toBe(100_000_000);
  });
});

describe("HEIC decoding against heif-convert", () => {
  it.each([
    "plain-64x48",
    "single-64x64",
    "ten-bit-64x64",
    "grid-2x2-120x100",
    "irot90-100x64",
    "irot270-100x64",
    "imir-horizontal-100x64",
    "irot90-imir-vertical-100x64",
    "irot270-exif6-100x64",
    "exif6-only-100x64",
    "clap-89x50-irot90-100x64",
  ])(`%s: the shown image matches libheif's within ${MIN_PSNR_DB} dB`, async (name) => {
    const [ours, ref] = [await decodeShown(heic(name)), await reference(name)];
    expect([ours.width, ours.height, ours.channels]).toEqual([ref.width, ref.height, ref.channels]);
    expect(psnr(ours.data, ref.data)).toBeGreaterThan(MIN_PSNR_DB);
  });

  it("puts the stored top-left marker where irot 270 (an iPhone portrait) shows it: top-right", async () => {
    const shown = await decodeShown(heic("irot270-exif6-100x64"));
    const at = (x: number, y: number) => Array.from(shown.data.subarray((y * shown.width + x) * 3, (y * shown.width + x) * 3 + 3));
    expect(at(shown.width - 5, 5)[0]).toBeGreaterThan(180); // red
    expect(at(5, 5)[0]).toBeLessThan(120);
  });

  it("keeps the alpha plane (RGBA), matching libheif's", async () => {
    const [ours, ref] = [await decodeShown(heic("alpha-64x64")), await reference("alpha-64x64")];
    expect(ours.channels).toBe(4);
    expect(psnr(ours.data, ref.data)).toBeGreaterThan(MIN_PSNR_DB);
    expect(ours.data[(10 * 64 + 60) * 4 + 3]).toBeLessThan(64); // the right edge fades out
  });

  it("turns a truncated file into a CodecError, not a crash", async () => {
    const bytes = heic("grid-2x2-120x100");
    const cut = bytes.subarray(0, bytes.length - 300);
    const header = probeImage(cut); // the boxes are all there; the coded data is not
    const decoder = FORMATS.heic.read(cut, header, modules).decoders[0];
    const error = await decoder.decode(1, decodeContext(modules, false, 1e8)).catch((e) => e);
    expect(error).toBeInstanceOf(CodecError);
    expect(error.kind).toBe("corrupt");
    expect(error.message).toMatch(/HEIC decode failed/);
  });

  it("turns garbled coded data into a CodecError, not a crash", async () => {
    const bytes = heic("single-64x64").slice();
    for (let i = bytes.length - 200; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
    const error = await decodeShown(bytes).then(() => undefined, (e) => e);
    // libde265 conceals some damage: either a CodecError or an image of the right size, never a RuntimeError.
    if (error) expect(error).toBeInstanceOf(CodecError);
  });
});

describe("HEIC memory", () => {
  const target = (width: number, height: number, format: RenderTarget["format"]): RenderTarget => ({ width, height, format, quality: 80, metadata: "none" });
  // The eager variants of a 4032×3024 photo turned upright: a large WebP, its JPEG, a thumbnail.
  const photoTargets = (w: number, h: number) => [target(w, h, "webp"), target(w, h, "jpeg"), target(Math.round(w / 8), Math.round(h / 8), "webp")];

  it("renders a 12 MP iPhone grid (8×6 tiles of 512, irot 270) within its plan and the 96 MB budget", async () => {
    const tile = readCodedTile(heic("tile-512x512"));
    const photo = tiledHeif(tile, 8, 6, 4032, 3024, [irot(3)]);
    const source = probeImage(photo);
    let report: RenderReport | undefined;
    const outputs = await renderTargets(photo, source, photoTargets(1512, 2016), { modules, maxPixels: 1e8 }, (r) => (report = r));
    expect(outputs.map((o) => [o.width, o.height])).toEqual([[1512, 2016], [1512, 2016], [189, 252]]);
    expect(report!.plan).toMatchObject({ decoder: "libheif-tiles", scale: 2, decodedWidth: 2016, decodedHeight: 1512 });
    expect(report!.measuredPeakBytes).toBeLessThanOrEqual(report!.plan.peakBytes);
    expect(report!.plan.peakBytes).toBeLessThan(96 * 1024 * 1024);
  });

  it("decodes a 12 MP grid tile by tile: libheif's heap holds the file and a tile, not the image", async () => {
    const tile = readCodedTile(heic("tile-512x512"));
    const photo = tiledHeif(tile, 8, 6, 4032, 3024);
    const decoder = FORMATS.heic.read(photo, probeImage(photo), modules).decoders[0];
    const { raster, decoderHeapBytes } = await decoder.decode(1, decodeContext(modules, false, 1e8));
    expect([raster.width, raster.height, raster.channels]).toEqual([4032, 3024, 3]);
    // Measured: 16.3 MiB, libheif's initial heap (a whole decode of the same grid reaches 53.8 MiB).
    expect(decoderHeapBytes).toBeLessThan(20 * 1024 * 1024);
    const model = decoder.memory({ inputBytes: photo.length, width: 4032, height: 3024, scale: 1 });
    expect(decoderHeapBytes).toBeLessThanOrEqual(model.decodeBytes - model.rasterBytes - photo.length);
  });

  it("renders a 48 MP grid (16×12 tiles) for 2016 px variants within its plan, decoding at 1/4", async () => {
    const tile = readCodedTile(heic("tile-512x512"));
    const photo = tiledHeif(tile, 16, 12, 8064, 6048);
    const source = probeImage(photo);
    expect(admitRender(photo, source, photo.length, photoTargets(2016, 1512), 96 * 1024 * 1024).fits).toBe(true);
    let report: RenderReport | undefined;
    await renderTargets(photo, source, photoTargets(2016, 1512), { modules, maxPixels: 1e8 }, (r) => (report = r));
    expect(report!.plan).toMatchObject({ scale: 4, decodedWidth: 2016, decodedHeight: 1512 });
    expect(report!.measuredPeakBytes).toBeLessThanOrEqual(report!.plan.peakBytes);
  });

  it("refuses at upload a 48 MP grid whose variants need it whole (its raster alone is 146 MB), naming the phase", () => {
    const tile = readCodedTile(heic("tile-512x512"));
    const photo = tiledHeif(tile, 16, 12, 8064, 6048);
    const admission = admitRender(photo, probeImage(photo), photo.length, photoTargets(8064, 6048), 96 * 1024 * 1024);
    expect(admission.fits).toBe(false);
    expect(admission.plan.phases[0].phase).toBe("decode (libheif-tiles, 8064×6048)");
  });

  it("decodes at 1/2 what the full decode shows, averaged", async () => {
    const bytes = heic("grid-2x2-120x100");
    const header = probeImage(bytes);
    const decoder = FORMATS.heic.read(bytes, header, modules).decoders[0];
    const half = (await decoder.decode(2, decodeContext(modules, false, 1e8))).raster;
    expect([half.width, half.height]).toEqual([60, 50]);
    const full = await sharp(readFileSync(new URL("grid-2x2-120x100.png", dir))).resize(60, 50, { kernel: "cubic" }).raw().toBuffer();
    expect(psnr(half.data, new Uint8Array(full))).toBeGreaterThan(30);
  });

  it("plans a 12 MP single image's whole decode far above a 12 MP grid's tiled one", () => {
    const single = heic("single-4032x3024");
    const grid = tiledHeif(readCodedTile(heic("tile-512x512")), 8, 6, 4032, 3024);
    const decodeOf = (bytes: Uint8Array) => FORMATS.heic.planningDecoders(bytes, probeImage(bytes), bytes.length)[0].memory({ inputBytes: bytes.length, width: 4032, height: 3024, scale: 1 }).decodeBytes;
    expect(decodeOf(single) - decodeOf(grid)).toBeGreaterThan(6 * 4032 * 3024);
  });

  it.each(["single-4032x3024", "single-alpha-4032x3024"])("the whole-image model bounds libheif's heap on a 12 MP single image (%s)", async (name) => {
    const bytes = heic(name);
    const header = probeImage(bytes);
    const decoder = FORMATS.heic.read(bytes, header, modules).decoders[0];
    expect(decoder.name).toBe("libheif");
    const { raster, decoderHeapBytes } = await decoder.decode(1, decodeContext(modules, header.hasAlpha, 1e8));
    expect([raster.width, raster.height, raster.channels]).toEqual([4032, 3024, header.hasAlpha ? 4 : 3]);
    const model = decoder.memory({ inputBytes: bytes.length, width: 4032, height: 3024, scale: 1 });
    // Measured: 85.6 MiB (RGB), 108.9 MiB (RGBA).
    expect(decoderHeapBytes).toBeGreaterThan(60 * 1024 * 1024);
    expect(decoderHeapBytes).toBeLessThanOrEqual(model.decodeBytes - model.rasterBytes - bytes.length);
  });

  it("refuses at upload a 12 MP single-image HEIC, which libheif must decode whole, naming the decode phase", () => {
    const bytes = heic("single-4032x3024");
    const admission = admitRender(bytes.subarray(0, 2048), probeImage(bytes), bytes.length, photoTargets(2016, 1512), 96 * 1024 * 1024);
    expect(admission.fits).toBe(false);
    expect(admission.peak.phase).toMatch(/^decode \(libheif at 1\/2, 2016×1512\)$/);
  });

  it("admits a 2 MP single-image HEIC, and decodes it averaged to 1/2 for smaller variants", async () => {
    const tile = readCodedTile(heic("tile-512x512"));
    const twoMp = muxHeif({ primary: 1, items: [{ id: 1, type: "hvc1", data: tile.data, properties: [tile.hvcC, ispe(1600, 1200)] }], refs: [] });
    const admission = admitRender(twoMp, probeImage(twoMp), twoMp.length, photoTargets(800, 600), 96 * 1024 * 1024);
    expect(admission.fits).toBe(true);
    expect(admission.plan).toMatchObject({ decoder: "libheif", scale: 2, decodedWidth: 800, decodedHeight: 600 });
  });
});
