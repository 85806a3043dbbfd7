/**
 * Streaming PNG decode with shrink-on-load, so that a 100 MP PNG never needs a full-size raster.
 *
 * The image data is inflated incrementally (fflate's `Unzlib`, fed small slices so one push never expands to
 * more than a few MB), unfiltered row by row (PNG spec 9: only the previous row of the same pass is kept), and
 * each row is converted to 8-bit RGBA and box-averaged into a raster of ceil(w/scale) × ceil(h/scale) — the
 * way our JPEG decoder scales in the DCT domain. Colour is averaged premultiplied by alpha (as libvips does).
 * Every colour type and bit depth: gray 1/2/4/8/16, RGB 8/16, palette 1/2/4/8, gray+alpha and RGBA 8/16, with
 * tRNS; 16-bit samples keep their high byte (as the Rust `png` crate's STRIP_16 does).
 * Adam7 interlaced images cannot be streamed in row order: each pass's pixels are added into full-image
 * accumulators at the reduced size instead (4 bytes per sample of the reduced raster).
 */
import { Unzlib } from "fflate";
import { CodecError } from "../errors.ts";
import type { Raster } from "../raster.ts";
import { dropAlphaInPlace, isOpaque } from "../pixels.ts";

/** IHDR, PLTE and tRNS: what the decode needs besides the image data. */
export interface PngLayout {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  interlaced: boolean;
}

/** Bytes pushed into the inflater at a time: deflate expands at most ~1032:1, so one push yields ≤ ~2 MB. */
const INFLATE_SLICE = 2048;

const ADAM7 = [
  [0, 0, 8, 8], [4, 0, 8, 8], [0, 4, 4, 8], [2, 0, 4, 4], [0, 2, 2, 4], [1, 0, 2, 2], [0, 1, 1, 2],
] as const;

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };
const DEPTHS: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };

const u32 = (b: Uint8Array, at: number) => ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
const fourcc = (b: Uint8Array, at: number) => String.fromCharCode(b[at], b[at + 1], b[at + 2], b[at + 3]);

/** Bytes of working memory besides the input and the returned raster, for the planner's model. */
export function pngStreamWorkBytes(layout: PngLayout, scale: number): number {
  const rw = Math.ceil(layout.width / scale), rh = Math.ceil(layout.height / scale);
  const rowBytes = Math.ceil((layout.width * CHANNELS[layout.colorType] * layout.bitDepth) / 8) + 1;
  const accumulators = scale === 1 ? 0 : layout.interlaced ? rw * rh * 16 : rw * 16;
  // Two scanlines, one RGBA row, the inflater's state and its largest output (deflate expands a slice of
  // INFLATE_SLICE bytes at most ~1032×; fflate's output buffer may be up to twice what it holds).
  return accumulators + 2 * rowBytes + layout.width * 4 + 2 * 1032 * INFLATE_SLICE + INFLATER_STATE_BYTES;
}

/** The inflater's own state besides its output: the 32 KiB window and its Huffman tables, rounded up. */
const INFLATER_STATE_BYTES = 64 * 1024;

export interface ScaledPng {
  raster: Raster;
  /** Working memory the decode allocated besides the input and the raster (largest inflater output included). */
  workBytes: number;
}

/**
 * Decodes `input` at 1/`scale` (ceil of each side); RGBA when `keepAlpha` and some pixel is not opaque, else
 * RGB (compacted in place: the raster's buffer stays 4 bytes per pixel).
 */
export function decodePngScaled(input: Uint8Array, layout: PngLayout, scale: number, keepAlpha: boolean): ScaledPng {
  const { width, height, bitDepth, colorType, interlaced } = layout;
  const channels = CHANNELS[colorType];
  if (channels === undefined || !DEPTHS[colorType].includes(bitDepth)) {
    throw new CodecError("corrupt", `PNG has an invalid colour type ${colorType} with bit depth ${bitDepth}`);
  }
  let palette: Uint8Array | undefined;
  let trns: Uint8Array | undefined;
  const rw = Math.ceil(width / scale), rh = Math.ceil(height / scale);
  const out = new Uint8Array(rw * rh * 4);
  const bitsPerPixel = channels * bitDepth;
  const filterStride = Math.max(1, bitsPerPixel >> 3);
  const rgba = new Uint8Array(width * 4);
  // Accumulators: premultiplied R, G, B and alpha per reduced pixel (one row of them when not interlaced).
  const acc = scale === 1 ? undefined : new Uint32Array((interlaced ? rw * rh : rw) * 4);

  const passes = interlaced ? ADAM7.map(([x0, y0, dx, dy]) => ({ x0, y0, dx, dy })) : [{ x0: 0, y0: 0, dx: 1, dy: 1 }];
  let pass = -1, passWidth = 0, passRows = 0, row = 0, rowBytes = 0;
  let current = new Uint8Array(0), previous = new Uint8Array(0), filled = 0;
  const nextPass = () => {
    for (pass++; pass < passes.length; pass++) {
      const p = passes[pass];
      passWidth = Math.ceil((width - p.x0) / p.dx);
      passRows = Math.ceil((height - p.y0) / p.dy);
      if (passWidth > 0 && passRows > 0) break;
    }
    row = 0;
    rowBytes = Math.ceil((passWidth * bitsPerPixel) / 8);
    current = new Uint8Array(rowBytes + 1);
    previous = new Uint8Array(rowBytes + 1);
    filled = 0;
  };

  /** Expands one unfiltered row of the current pass to RGBA8 in `rgba` (pass-local pixel order). */
  const expand = (line: Uint8Array) => {
    const depthMax = (1 << Math.min(bitDepth, 8)) - 1;
    for (let i = 0; i < passWidth; i++) {
      let r: number, g: number, b: number, a = 255;
      if (colorType === 3 || (colorType === 0 && bitDepth < 8)) {
        const bit = i * bitDepth;
        const v = (line[bit >> 3] >> (8 - bitDepth - (bit & 7))) & depthMax;
        if (colorType === 3) {
          if (!palette || v * 3 + 2 >= palette.length) throw new CodecError("corrupt", `PNG pixel uses palette entry ${v}, beyond its palette`);
          r = palette[v * 3]; g = palette[v * 3 + 1]; b = palette[v * 3 + 2];
          if (trns && v < trns.length) a = trns[v];
        } else {
          r = g = b = Math.round((v * 255) / depthMax);
          if (trns && trns.length >= 2 && ((trns[0] << 8) | trns[1]) === v) a = 0;
        }
      } else if (bitDepth === 8) {
        const p = i * channels;
        if (channels === 1 || channels === 2) {
          r = g = b = line[p];
          if (channels === 2) a = line[p + 1];
          else if (trns && trns.length >= 2 && trns[1] === r && trns[0] === 0) a = 0;
        } else {
          r = line[p]; g = line[p + 1]; b = line[p + 2];
          if (channels === 4) a = line[p + 3];
          else if (trns && trns.length >= 6 && trns[0] === 0 && trns[1] === r && trns[2] === 0 && trns[3] === g && trns[4] === 0 && trns[5] === b) a = 0;
        }
      } else {
        const p = i * channels * 2;
        if (channels === 1 || channels === 2) {
          r = g = b = line[p];
          if (channels === 2) a = line[p + 2];
          else if (trns && trns.length >= 2 && trns[0] === line[p] && trns[1] === line[p + 1]) a = 0;
        } else {
          r = line[p]; g = line[p + 2]; b = line[p + 4];
          if (channels === 4) a = line[p + 6];
          else if (trns && trns.length >= 6 && trns[0] === line[p] && trns[1] === line[p + 1] && trns[2] === line[p + 2] &&
            trns[3] === line[p + 3] && trns[4] === line[p + 4] && trns[5] === line[p + 5]) a = 0;
        }
      }
      const q = i * 4;
      rgba[q] = r; rgba[q + 1] = g; rgba[q + 2] = b; rgba[q + 3] = a;
    }
  };

  /** Writes the finished accumulator row `ry` (non-interlaced) or every cell (interlaced) to `out`. */
  const emit = (cells: Uint32Array, from: number, count: number, ry: number) => {
    const cellH = Math.min(scale, height - ry * scale);
    for (let cx = 0; cx < count; cx++) {
      const cellW = Math.min(scale, width - cx * scale);
      const k = cx * 4, o = ((ry * rw) + from + cx) * 4;
      const alpha = cells[k + 3];
      if (alpha === 0) {
        out[o] = out[o + 1] = out[o + 2] = out[o + 3] = 0;
      } else {
        out[o] = Math.round(cells[k] / alpha);
        out[o + 1] = Math.round(cells[k + 1] / alpha);
        out[o + 2] = Math.round(cells[k + 2] / alpha);
        out[o + 3] = Math.round(alpha / (cellW * cellH));
      }
    }
  };

  const addRow = (y: number) => {
    const p = passes[pass];
    if (!acc) {
      const o = y * width * 4;
      for (let i = 0; i < passWidth; i++) out.set(rgba.subarray(i * 4, i * 4 + 4), o + (p.x0 + i * p.dx) * 4);
      return;
    }
    const ry = Math.floor(y / scale);
    const base = interlaced ? ry * rw * 4 : 0;
    for (let i = 0; i < passWidth; i++) {
      const x = p.x0 + i * p.dx;
      const k = base + Math.floor(x / scale) * 4, q = i * 4;
      const a = rgba[q + 3];
      acc[k] += rgba[q] * a;
      acc[k + 1] += rgba[q + 1] * a;
      acc[k + 2] += rgba[q + 2] * a;
      acc[k + 3] += a;
    }
    if (!interlaced && ((y + 1) % scale === 0 || y + 1 === height)) {
      emit(acc, 0, rw, ry);
      acc.fill(0);
    }
  };

  const unfilter = () => {
    const filter = current[0];
    const line = current.subarray(1), prior = previous.subarray(1);
    const n = rowBytes, s = filterStride;
    switch (filter) {
      case 0: break;
      case 1: for (let i = s; i < n; i++) line[i] = (line[i] + line[i - s]) & 255; break;
      case 2: for (let i = 0; i < n; i++) line[i] = (line[i] + prior[i]) & 255; break;
      case 3:
        for (let i = 0; i < n; i++) line[i] = (line[i] + (((i >= s ? line[i - s] : 0) + prior[i]) >> 1)) & 255;
        break;
      case 4:
        for (let i = 0; i < n; i++) {
          const a = i >= s ? line[i - s] : 0, b = prior[i], c = i >= s ? prior[i - s] : 0;
          const pa = Math.abs(b - c), pb = Math.abs(a - c), pc = Math.abs(a + b - 2 * c);
          line[i] = (line[i] + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c)) & 255;
        }
        break;
      default: throw new CodecError("corrupt", `PNG scanline has an invalid filter type ${filter}`);
    }
    expand(line);
    addRow(passes[pass].y0 + row * passes[pass].dy);
    [previous, current] = [current, previous];
    filled = 0;
    if (++row === passRows) nextPass();
  };

  let largestOutput = 0;
  const inflater = new Unzlib((chunk) => {
    largestOutput = Math.max(largestOutput, chunk.buffer.byteLength);
    for (let at = 0; at < chunk.length;) {
      if (pass >= passes.length) return; // data past the last row is ignored, as libpng does
      const take = Math.min(chunk.length - at, current.length - filled);
      current.set(chunk.subarray(at, at + take), filled);
      filled += take;
      at += take;
      if (filled === current.length) unfilter();
    }
  });

  nextPass();
  let sawData = false;
  try {
    for (let p = 8; p + 12 <= input.length;) {
      const length = u32(input, p), type = fourcc(input, p + 4);
      const body = input.subarray(p + 8, Math.min(input.length, p + 8 + length));
      if (type === "PLTE") palette = body;
      else if (type === "tRNS") trns = body;
      else if (type === "IDAT") {
        sawData = true;
        for (let at = 0; at < body.length; at += INFLATE_SLICE) inflater.push(body.subarray(at, at + INFLATE_SLICE));
      } else if (type === "IEND") break;
      p += 12 + length;
    }
    if (sawData) inflater.push(new Uint8Array(0), true);
  } catch (e) {
    if (e instanceof CodecError) throw e;
    throw new CodecError("corrupt", `PNG decode failed: the compressed image data is damaged (${e instanceof Error ? e.message : String(e)})`);
  }
  if (!sawData) throw new CodecError("corrupt", "PNG decode failed: no image data (IDAT)");
  if (pass < passes.length) throw new CodecError("corrupt", "PNG decode failed: the image data ends before the last row");
  if (acc && interlaced) {
    for (let ry = 0; ry < rh; ry++) emit(acc.subarray(ry * rw * 4, (ry + 1) * rw * 4), 0, rw, ry);
  }
  const workBytes = (acc?.byteLength ?? 0) + current.byteLength + previous.byteLength + rgba.byteLength + largestOutput + INFLATER_STATE_BYTES;
  const raster: Raster = keepAlpha && !isOpaque(out) ? { data: out, width: rw, height: rh, channels: 4 } : dropAlphaInPlace(out, rw, rh);
  return { raster, workBytes };
}
