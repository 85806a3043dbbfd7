/**
 * First frame of an animated WebP, for libwebp's simple decode API (which refuses animations).
 *
 * The first ANMF chunk's bitstream (ALPH + VP8, or VP8L) is re-wrapped as a still WebP, decoded as usual, and
 * placed on a transparent canvas of the VP8X size at the frame's offset — what WebPAnimDecoder and browsers
 * show for frame 1 (they ignore the ANIM background colour too). Container layout: the WebP container spec
 * (RIFF, VP8X flags, ANMF: 24-bit X/2, Y/2, width−1, height−1, duration, then the frame's chunks).
 */
import { CodecError } from "../errors.ts";

/** The first frame of an animation, ready for the still decoder, and where it goes on the canvas. */
export interface WebpFirstFrame {
  still: Uint8Array;
  canvasWidth: number;
  canvasHeight: number;
  left: number;
  top: number;
  width: number;
  height: number;
}

/** VP8X feature flags (the WebP container spec). */
export const VP8X_ANIMATION = 0x02;
export const VP8X_ALPHA = 0x10;
export const VP8X_EXIF = 0x08;
export const VP8X_ICC = 0x20;

export interface Chunk {
  fourcc: string;
  /** Offset of the chunk header. */
  at: number;
  /** Payload size as declared. */
  size: number;
  /** Payload, clipped to the input. */
  payload: Uint8Array;
}

const fourccAt = (b: Uint8Array, at: number) => String.fromCharCode(b[at], b[at + 1], b[at + 2], b[at + 3]);
const le24 = (b: Uint8Array, at: number) => b[at] | (b[at + 1] << 8) | (b[at + 2] << 16);
const le32 = (b: Uint8Array, at: number) => (le24(b, at) | (b[at + 3] << 24)) >>> 0;

/** The chunks of `b` from `start` to `end`; a chunk running past `end` is clipped and ends the list. */
export function chunks(b: Uint8Array, start: number, end: number): Chunk[] {
  const out: Chunk[] = [];
  let p = start;
  while (p + 8 <= end) {
    const size = le32(b, p + 4);
    const payloadEnd = Math.min(end, p + 8 + size);
    out.push({ fourcc: fourccAt(b, p), at: p, size, payload: b.subarray(p + 8, payloadEnd) });
    if (p + 8 + size >= end) break;
    p += 8 + size + (size & 1);
  }
  return out;
}

/** A chunk as bytes, with its pad byte (the still is always written whole and even). */
export function chunkBytes(fourcc: string, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + payload.length + (payload.length & 1));
  for (let i = 0; i < 4; i++) out[i] = fourcc.charCodeAt(i);
  new DataView(out.buffer).setUint32(4, payload.length, true);
  out.set(payload, 8);
  return out;
}

export function riff(parts: Uint8Array[]): Uint8Array {
  const length = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(12 + length);
  out.set([0x52, 0x49, 0x46, 0x46, 0, 0, 0, 0, 0x57, 0x45, 0x42, 0x50]); // "RIFF" size "WEBP"
  new DataView(out.buffer).setUint32(4, 4 + length, true);
  let at = 12;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * The first frame of `input` if it is an animated WebP (VP8X with the animation flag), else undefined.
 * Throws `corrupt` when the animation has no usable first frame or the frame does not fit the canvas.
 */
export function webpFirstFrame(input: Uint8Array): WebpFirstFrame | undefined {
  if (input.length < 12) return undefined;
  const end = Math.min(input.length, 8 + le32(input, 4));
  const top = chunks(input, 12, end);
  const vp8x = top[0]?.fourcc === "VP8X" && top[0].payload.length >= 10 ? top[0].payload : undefined;
  if (!vp8x || !(vp8x[0] & VP8X_ANIMATION)) return undefined;
  const canvasWidth = le24(vp8x, 4) + 1;
  const canvasHeight = le24(vp8x, 7) + 1;
  const anmf = top.find((c) => c.fourcc === "ANMF");
  if (!anmf) throw new CodecError("corrupt", "animated WebP has no frame (ANMF chunk)");
  const f = anmf.payload;
  if (f.length < 16) throw new CodecError("corrupt", "animated WebP: the first ANMF chunk is truncated");
  const frame = { left: 2 * le24(f, 0), top: 2 * le24(f, 3), width: le24(f, 6) + 1, height: le24(f, 9) + 1 };
  if (frame.left + frame.width > canvasWidth || frame.top + frame.height > canvasHeight) {
    throw new CodecError("corrupt", `animated WebP: first frame ${frame.width}×${frame.height} at (${frame.left}, ${frame.top}) is outside the ${canvasWidth}×${canvasHeight} canvas`);
  }
  return { still: stillOfFrame(f, frame.width, frame.height, "the first frame"), canvasWidth, canvasHeight, ...frame };
}

/**
 * An ANMF payload's image (an optional ALPH, then VP8 or VP8L; unknown chunks skipped) re-wrapped as a still WebP
 * of `width × height`, for libwebp's simple decoder.
 */
export function stillOfFrame(f: Uint8Array, width: number, height: number, which: string): Uint8Array {
  // The frame's own chunks: an optional ALPH, then VP8 or VP8L (unknown chunks are skipped).
  let alph: Uint8Array | undefined;
  let image: Chunk | undefined;
  for (const c of chunks(f, 16, f.length)) {
    if (c.fourcc === "ALPH" && !alph) alph = c.payload;
    if (c.fourcc === "VP8 " || c.fourcc === "VP8L") {
      image = c;
      break;
    }
  }
  if (!image) throw new CodecError("corrupt", `animated WebP: ${which} has no VP8/VP8L bitstream`);
  const parts: Uint8Array[] = [];
  if (alph && image.fourcc === "VP8 ") {
    const header = new Uint8Array(10);
    header[0] = VP8X_ALPHA;
    header.set([(width - 1) & 255, ((width - 1) >> 8) & 255, (width - 1) >> 16], 4);
    header.set([(height - 1) & 255, ((height - 1) >> 8) & 255, (height - 1) >> 16], 7);
    parts.push(chunkBytes("VP8X", header), chunkBytes("ALPH", alph));
  }
  parts.push(chunkBytes(image.fourcc, image.payload));
  return riff(parts);
}

/** `frame` (RGBA, `width × height`) on a transparent RGBA canvas at its offset. */
export function placeOnCanvas(frame: Uint8Array, f: WebpFirstFrame): Uint8Array {
  if (f.left === 0 && f.top === 0 && f.width === f.canvasWidth && f.height === f.canvasHeight) return frame;
  const canvas = new Uint8Array(f.canvasWidth * f.canvasHeight * 4);
  for (let y = 0; y < f.height; y++) {
    canvas.set(frame.subarray(y * f.width * 4, (y + 1) * f.width * 4), ((f.top + y) * f.canvasWidth + f.left) * 4);
  }
  return canvas;
}
