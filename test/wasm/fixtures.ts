/**
 * Test inputs, generated with sharp so no binary fixtures live in git. Each is named by what it exercises.
 * The picture is "photo-like" (smooth gradients, a soft texture, hard edges) and asymmetric: a solid red
 * square marks the STORED top-left corner, so orientation can be checked on any output.
 */
export { psnr } from "./measure.ts";
import sharp, { type Sharp } from "sharp";
import type { SourceInfo } from "../../wasm/src/engine.ts";
import type { Orientation } from "../../wasm/src/raster.ts";

export const W = 480;
export const H = 320;
/** Side of the red marker square at the stored top-left, in source pixels. */
export const MARK = 64;

/** RGBA pixels of the test picture; with `alpha`, the right quarter fades to transparent. */
export function picture(width = W, height = H, alpha = false): Buffer {
  const px = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      const u = x / width, v = y / height;
      let r = 40 + 160 * u + 30 * Math.sin(x / 9) * Math.cos(y / 13);
      let g = 60 + 140 * v + 25 * Math.sin((x + y) / 17);
      let b = 200 - 120 * u * v + (((x >> 5) + (y >> 5)) & 1 ? 25 : -25);
      if (x < MARK && y < MARK) [r, g, b] = [230, 20, 20];
      px[i] = r; px[i + 1] = g; px[i + 2] = b;
      px[i + 3] = alpha && x > (width * 3) / 4 ? Math.max(0, 255 - (x - (width * 3) / 4) * 4) : 255;
    }
  }
  return px;
}

function base(alpha = false, width = W, height = H) {
  return sharp(picture(width, height, alpha), { raw: { width, height, channels: 4 } });
}
const opaque = () => base().removeAlpha();

export async function jpegWithOrientation(o: Orientation): Promise<Buffer> {
  return opaque().jpeg({ quality: 92 }).withMetadata({ orientation: o }).toBuffer();
}

/** Every input variant the engine must decode (CMYK only with our JPEG decoder). */
export async function inputSet(): Promise<Record<string, Buffer>> {
  return {
    inputJpgBaseline: await opaque().jpeg({ quality: 92 }).toBuffer(),
    inputJpgProgressive: await opaque().jpeg({ quality: 92, progressive: true }).toBuffer(),
    inputJpgGray: await opaque().toColourspace("b-w").jpeg({ quality: 92 }).toBuffer(),
    inputJpgCmyk: await opaque().toColourspace("cmyk").jpeg({ quality: 92 }).toBuffer(),
    inputJpgWithExifOrientation6: await jpegWithOrientation(6),
    inputJpgWithExifOrientation8: await jpegWithOrientation(8),
    inputPng8: await opaque().png().toBuffer(),
    inputPng16: await opaque().toColourspace("rgb16").png().toBuffer(),
    inputPngPalette: await base(true).png({ palette: true, colours: 256, dither: 0 }).toBuffer(),
    inputPngGrayAlpha: await base(true).toColourspace("b-w").png().toBuffer(),
    inputPngInterlaced: await base(true).png({ progressive: true }).toBuffer(),
    inputWebpLossy: await opaque().webp({ quality: 92 }).toBuffer(),
    inputWebpLossless: await opaque().webp({ lossless: true }).toBuffer(),
    inputWebpAlpha: await base(true).webp({ quality: 92 }).toBuffer(),
    inputAvif: await base(true).avif({ quality: 80 }).toBuffer(),
    inputAvif10bit: await opaque().avif({ quality: 80, bitdepth: 10 }).toBuffer(),
    inputGif: await base(true).gif().toBuffer(),
  };
}

/** Stand-in for the platform's header probe. */
export async function probe(bytes: Uint8Array): Promise<SourceInfo> {
  const m = await sharp(bytes).metadata();
  const format = m.format === "heif" ? "avif" : m.format;
  return { format: format as SourceInfo["format"], width: m.width!, height: m.height!, orientation: (m.orientation ?? 1) as Orientation, hasAlpha: !!m.hasAlpha };
}


/** Decodes any output to RGB flattened on white, the common ground for comparing renders. */
export async function rgbOnWhite(bytes: Uint8Array): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(bytes).flatten({ background: "#ffffff" }).removeAlpha().toColourspace("srgb").raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** An image's RGB pixels (alpha dropped), as sharp decodes it. */
export async function rgb(s: Sharp) {
  const { data, info } = await s.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** sharp, one operation per pass so its own order of operations cannot differ from the one written here. */
export async function sharpSteps(input: Uint8Array, ...steps: Array<(s: Sharp) => Sharp>) {
  let bytes = Buffer.from(input);
  for (const step of steps) bytes = await step(sharp(bytes)).png().toBuffer();
  return rgb(sharp(bytes));
}
