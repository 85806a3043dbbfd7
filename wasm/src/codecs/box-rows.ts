/**
 * A row sink with shrink-on-load: full-resolution ARGB rows in, in order, a raster of ceil(w/scale) ×
 * ceil(h/scale) out, each pixel the box average of its cell with colour premultiplied by alpha (as libvips
 * does) — the same reduction the streaming PNG decoder (png-stream.ts) applies, for decoders that produce rows
 * (vp8l-stream.ts). Only one row of accumulators is held.
 */
import type { Raster } from "../raster.ts";
import { dropAlphaInPlace, isOpaque } from "../pixels.ts";

export interface BoxRowSink {
  /** Takes the next row of `width` packed ARGB words (WebP lossless's pixels); rows come top to bottom. */
  add(argb: Int32Array): void;
  /** The reduced raster: RGBA when `keepAlpha` and some pixel is not opaque, else RGB compacted in place. */
  finish(keepAlpha: boolean): Raster;
  /** Bytes this sink holds besides the raster it returns. */
  readonly workBytes: number;
}

/** A sink for a `width × height` image reduced 1/`scale` (1: rows are copied as they are). */
export function boxRowSink(width: number, height: number, scale: number): BoxRowSink {
  const rw = Math.ceil(width / scale), rh = Math.ceil(height / scale);
  const out = new Uint8Array(rw * rh * 4);
  // Premultiplied R, G, B and alpha per reduced pixel of the current reduced row.
  const acc = scale === 1 ? undefined : new Uint32Array(rw * 4);
  let y = 0;

  const emit = (ry: number) => {
    const cellH = Math.min(scale, height - ry * scale);
    for (let cx = 0; cx < rw; cx++) {
      const cellW = Math.min(scale, width - cx * scale);
      const k = cx * 4, o = (ry * rw + cx) * 4;
      const alpha = acc![k + 3];
      if (alpha === 0) {
        out[o] = out[o + 1] = out[o + 2] = out[o + 3] = 0;
      } else {
        out[o] = Math.round(acc![k] / alpha);
        out[o + 1] = Math.round(acc![k + 1] / alpha);
        out[o + 2] = Math.round(acc![k + 2] / alpha);
        out[o + 3] = Math.round(alpha / (cellW * cellH));
      }
    }
    acc!.fill(0);
  };

  return {
    add(argb) {
      if (y >= height) return;
      if (!acc) {
        for (let x = 0, o = y * width * 4; x < width; x++, o += 4) {
          const p = argb[x];
          out[o] = (p >>> 16) & 0xff; out[o + 1] = (p >>> 8) & 0xff; out[o + 2] = p & 0xff; out[o + 3] = p >>> 24;
        }
      } else {
        for (let cx = 0, x = 0; cx < rw; cx++) {
          let r = 0, g = 0, b = 0, sum = 0;
          for (const end = Math.min(width, (cx + 1) * scale); x < end; x++) {
            const p = argb[x], a = p >>> 24;
            r += ((p >>> 16) & 0xff) * a;
            g += ((p >>> 8) & 0xff) * a;
            b += (p & 0xff) * a;
            sum += a;
          }
          const k = cx * 4;
          acc[k] += r;
          acc[k + 1] += g;
          acc[k + 2] += b;
          acc[k + 3] += sum;
        }
        if ((y + 1) % scale === 0 || y + 1 === height) emit((y / scale) | 0);
      }
      y++;
    },
    finish(keepAlpha) {
      return keepAlpha && !isOpaque(out) ? { data: out, width: rw, height: rh, channels: 4 } : dropAlphaInPlace(out, rw, rh);
    },
    workBytes: acc?.byteLength ?? 0,
  };
}
