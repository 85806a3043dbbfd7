/**
 * Animated WebP writer: a RIFF `VP8X` + `ANIM` + one `ANMF` per frame (the WebP container spec), over frames our
 * still encoder wrote. Every frame is the whole canvas, drawn without blending and never disposed, so a player
 * shows exactly the frames we composed: simpler than WebPAnimEncoder's sub-rectangles, and larger files where
 * little moves — a trade-off for a muxer of a page.
 */
import { CodecError } from "../errors.ts";
import { VP8X_ALPHA, VP8X_ANIMATION, chunkBytes, chunks, riff } from "../codecs/webp-animation.ts";

const ANMF_NO_BLEND = 0x02;
/** ANMF durations are 24-bit milliseconds. */
const MAX_DURATION_MS = 0xffffff;

/** One encoded frame: its image chunks (ALPH? + VP8, or VP8L) lifted from a still WebP, and how long it shows. */
export interface MuxFrame {
  imageChunks: Uint8Array;
  hasAlpha: boolean;
  durationMs: number;
}

/** The image chunks of a still WebP our encoder wrote (VP8X and metadata dropped: the animation has its own). */
export function frameOfStill(still: Uint8Array, durationMs: number): MuxFrame {
  const end = Math.min(still.length, 8 + (still[4] | (still[5] << 8) | (still[6] << 16) | (still[7] << 24)) >>> 0);
  const parts = chunks(still, 12, end).filter((c) => c.fourcc === "ALPH" || c.fourcc === "VP8 " || c.fourcc === "VP8L");
  if (!parts.some((c) => c.fourcc !== "ALPH")) throw new CodecError("limit", "WebP encoder wrote no VP8/VP8L bitstream for an animation frame");
  const bytes = parts.map((c) => chunkBytes(c.fourcc, c.payload));
  const imageChunks = new Uint8Array(bytes.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of bytes) {
    imageChunks.set(b, at);
    at += b.length;
  }
  // A VP8L bitstream says in its header whether it uses alpha (bit 28 after the 0x2f signature).
  const vp8l = parts.find((c) => c.fourcc === "VP8L");
  const hasAlpha = parts.some((c) => c.fourcc === "ALPH") || (vp8l !== undefined && vp8l.payload.length >= 5 && (vp8l.payload[4] & 0x10) !== 0);
  return { imageChunks, hasAlpha, durationMs };
}

const u24 = (out: Uint8Array, at: number, v: number) => out.set([v & 255, (v >> 8) & 255, (v >> 16) & 255], at);

/** The animated WebP of `frames`, each `width × height`, played `loop` times (0 = forever). */
export function muxAnimatedWebp(frames: MuxFrame[], width: number, height: number, loop: number): Uint8Array {
  const vp8x = new Uint8Array(10);
  vp8x[0] = VP8X_ANIMATION | (frames.some((f) => f.hasAlpha) ? VP8X_ALPHA : 0);
  u24(vp8x, 4, width - 1);
  u24(vp8x, 7, height - 1);
  const anim = new Uint8Array(6); // background colour 0 (transparent; players ignore it), then the loop count
  anim[4] = loop & 255;
  anim[5] = (loop >> 8) & 255;
  const parts = [chunkBytes("VP8X", vp8x), chunkBytes("ANIM", anim)];
  for (const f of frames) {
    const payload = new Uint8Array(16 + f.imageChunks.length);
    u24(payload, 6, width - 1);
    u24(payload, 9, height - 1);
    u24(payload, 12, Math.min(MAX_DURATION_MS, Math.max(0, Math.round(f.durationMs))));
    payload[15] = ANMF_NO_BLEND;
    payload.set(f.imageChunks, 16);
    parts.push(chunkBytes("ANMF", payload));
  }
  return riff(parts);
}
