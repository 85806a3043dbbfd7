/**
 * Every frame of an animated WebP, composed onto its canvas one at a time as WebPAnimDecoder does (the WebP
 * container spec, "Assembling the canvas from frames"): before a frame, the previous one's rectangle is cleared
 * to transparent if it asked to be disposed; the frame is then alpha-blended over the canvas, or copied when its
 * ANMF says "do not blend". The ANIM background colour is ignored, as libwebp and browsers ignore it. Each frame's
 * bitstream is re-wrapped as a still (codecs/webp-animation.ts) for libwebp's simple decoder. A frame reaching
 * past the canvas is clipped, never grows it.
 */
import { CodecError } from "../errors.ts";
import { chunks, stillOfFrame } from "../codecs/webp-animation.ts";
import { clearRect } from "./gif-frames.ts";
import type { AnimationHeader, ComposedFrame } from "./frames.ts";

export interface WebpFrame {
  left: number;
  top: number;
  width: number;
  height: number;
  durationMs: number;
  /** Alpha-blend over the canvas (else: overwrite the rectangle). */
  blend: boolean;
  /** Clear the rectangle to transparent after the frame was shown. */
  dispose: boolean;
  /** The ANMF payload (its 16-byte header, then the frame's chunks). */
  payload: Uint8Array;
}

const le24 = (b: Uint8Array, at: number) => b[at] | (b[at + 1] << 8) | (b[at + 2] << 16);
const le32 = (b: Uint8Array, at: number) => (le24(b, at) | (b[at + 3] << 24)) >>> 0;

/** The canvas, loop count and frames of an animated WebP; undefined for a still. */
export function walkWebp(b: Uint8Array): { header: AnimationHeader; frames: WebpFrame[] } | undefined {
  if (b.length < 12) return undefined;
  const end = Math.min(b.length, 8 + le32(b, 4));
  const top = chunks(b, 12, end);
  const vp8x = top[0]?.fourcc === "VP8X" && top[0].payload.length >= 10 ? top[0].payload : undefined;
  if (!vp8x || !(vp8x[0] & 0x02)) return undefined;
  const width = le24(vp8x, 4) + 1, height = le24(vp8x, 7) + 1;
  const anim = top.find((c) => c.fourcc === "ANIM");
  const loop = anim && anim.payload.length >= 6 ? anim.payload[4] | (anim.payload[5] << 8) : 0;
  const frames: WebpFrame[] = [];
  for (const c of top) {
    if (c.fourcc !== "ANMF") continue;
    const f = c.payload;
    // A frame cut off before its bitstream ends the animation (the probe lets such files in after frame 1).
    if (f.length < 16 || c.payload.length < c.size) break;
    frames.push({
      left: 2 * le24(f, 0), top: 2 * le24(f, 3), width: le24(f, 6) + 1, height: le24(f, 9) + 1,
      durationMs: le24(f, 12), blend: (f[15] & 0x02) === 0, dispose: (f[15] & 0x01) !== 0, payload: f,
    });
  }
  if (frames.length === 0) throw new CodecError("corrupt", "animated WebP has no complete frame (ANMF chunk)");
  return { header: { width, height, frameCount: frames.length, loop }, frames };
}

/** Decodes one still WebP to RGBA: libwebp's simple API, instantiated once by the caller. */
export type StillDecoder = (still: Uint8Array) => { data: Uint8Array; width: number; height: number };

/** Yields each frame as shown: the whole canvas, RGBA, owned by the compositor (use it before the next one). */
export function* composeWebpFrames(b: Uint8Array, decodeStill: StillDecoder): Generator<ComposedFrame> {
  const walked = walkWebp(b);
  if (!walked) throw new CodecError("corrupt", "not an animated WebP");
  const { header: { width, height }, frames } = walked;
  const canvas = new Uint8Array(width * height * 4);
  for (let i = 0; i < frames.length; i++) {
    const frame = frames[i];
    const which = i === 0 ? "the first frame" : `frame ${i + 1}`;
    const image = decodeStill(stillOfFrame(frame.payload, frame.width, frame.height, which));
    if (image.width !== frame.width || image.height !== frame.height) {
      throw new CodecError("corrupt", `animated WebP: ${which}'s bitstream is ${image.width}×${image.height}, its ANMF chunk says ${frame.width}×${frame.height}`);
    }
    drawFrame(canvas, width, height, image.data, frame);
    yield { rgba: canvas, width, height, delayMs: frame.durationMs, index: i };
    if (frame.dispose) clearRect(canvas, width, height, frame);
  }
}

/** Draws `src` (the frame's RGBA) at its place, clipped to the canvas: blended (non-premultiplied "over") or copied. */
function drawFrame(canvas: Uint8Array, cw: number, ch: number, src: Uint8Array, f: WebpFrame): void {
  const w = Math.min(f.width, cw - f.left), h = Math.min(f.height, ch - f.top);
  if (w <= 0 || h <= 0) return;
  for (let y = 0; y < h; y++) {
    const s0 = y * f.width * 4, d0 = ((f.top + y) * cw + f.left) * 4;
    if (!f.blend) {
      canvas.set(src.subarray(s0, s0 + w * 4), d0);
      continue;
    }
    for (let x = 0; x < w; x++) {
      const s = s0 + x * 4, d = d0 + x * 4;
      const sa = src[s + 3];
      if (sa === 255) {
        canvas[d] = src[s]; canvas[d + 1] = src[s + 1]; canvas[d + 2] = src[s + 2]; canvas[d + 3] = 255;
      } else if (sa !== 0) {
        const da = (canvas[d + 3] * (255 - sa)) / 255;
        const a = sa + da;
        for (let c = 0; c < 3; c++) canvas[d + c] = Math.round((src[s + c] * sa + canvas[d + c] * da) / a);
        canvas[d + 3] = Math.round(a);
      }
    }
  }
}
