import { CodecError } from "./errors.ts";
import type { Raster } from "./raster.ts";

/** Rounds v / 255 to nearest for 0 ≤ v ≤ 65025 without a division. */
function div255(v: number): number {
  v += 128;
  return (v + (v >> 8)) >> 8;
}

/**
 * Centres `src` on a `width`×`height` canvas filled with `background` (fit=pad). The result is RGBA when the
 * source has alpha or the background is not opaque, RGB otherwise.
 */
export function padTo(src: Raster, width: number, height: number, background: [number, number, number, number]): Raster {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < src.width || height < src.height) {
    throw new CodecError(
      "limit",
      `padTo: canvas must be integers at least the image size ${src.width}x${src.height}, got ${width}x${height}`,
    );
  }
  const left = (width - src.width) >> 1;
  const top = (height - src.height) >> 1;
  return placeOnColour(src, width, height, left, top, background);
}

/** Composites RGBA over an opaque `background` colour and drops alpha (for formats without it, like JPEG). */
export function flattenAlpha(src: Raster, background: [number, number, number]): Raster {
  if (src.channels === 3) return src;
  const n = src.width * src.height;
  const s = src.data;
  const out = new Uint8Array(n * 3);
  const [br, bg, bb] = background;
  for (let i = 0, p = 0, d = 0; i < n; i++, p += 4, d += 3) {
    const a = s[p + 3];
    const na = 255 - a;
    out[d] = div255(s[p] * a + br * na);
    out[d + 1] = div255(s[p + 1] * a + bg * na);
    out[d + 2] = div255(s[p + 2] * a + bb * na);
  }
  return { data: out, width: src.width, height: src.height, channels: 3 };
}

/**
 * `src` inside a frame of `color` (RGBA), `top`/`right`/`bottom`/`left` pixels wide. RGBA when the source has alpha
 * or the colour is not opaque, RGB otherwise (flattening for JPEG comes after).
 */
export function borderAround(
  src: Raster,
  { top, right, bottom, left, color }: { top: number; right: number; bottom: number; left: number; color: [number, number, number, number] },
): Raster {
  return placeOnColour(src, src.width + left + right, src.height + top + bottom, left, top, color);
}

/**
 * `src` with its top-left corner at (`left`, `top`) of a `width`×`height` canvas filled with `colour` (RGBA): RGBA
 * when the source has alpha or the colour is not opaque, RGB otherwise. The one placing of fit=pad and border.
 */
function placeOnColour(src: Raster, width: number, height: number, left: number, top: number, colour: [number, number, number, number]): Raster {
  const ch: 3 | 4 = src.channels === 4 || colour[3] < 255 ? 4 : 3;
  const out = new Uint8Array(width * height * ch);
  for (let i = 0; i < ch; i++) {
    if (colour[i] !== 0) for (let p = i; p < out.length; p += ch) out[p] = colour[i];
  }
  const rowBytes = src.width * src.channels;
  for (let y = 0; y < src.height; y++) {
    const from = y * rowBytes;
    let d = ((top + y) * width + left) * ch;
    if (ch === src.channels) {
      out.set(src.data.subarray(from, from + rowBytes), d);
    } else {
      for (let s = from; s < from + rowBytes; s += 3) {
        out[d++] = src.data[s]; out[d++] = src.data[s + 1]; out[d++] = src.data[s + 2]; out[d++] = 255;
      }
    }
  }
  return { data: out, width, height, channels: ch };
}
