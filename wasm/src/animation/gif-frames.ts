/**
 * Every frame of an animated GIF, composed onto the logical screen one at a time with the frame's disposal
 * (GIF89a §23: 0/1 keep, 2 restore the frame's rectangle to the background — transparent, as browsers and
 * libnsgif draw it —, 3 restore what was there before the frame). The LZW decoder is codecs/gif.ts's, which
 * writes each frame straight onto the screen, clipped: a frame placed outside the screen is cut, never grows it.
 */
import { CodecError } from "../errors.ts";
import { decodeFrame, skipSubBlocks, type FrameHeader } from "../codecs/gif.ts";
import type { AnimationHeader, ComposedFrame } from "./frames.ts";

export interface GifFrame extends FrameHeader {
  /** 0–1: leave, 2: restore to background, 3: restore to previous. */
  disposal: number;
  /** Centiseconds, as stored. */
  delayCs: number;
}

/** Frames up to this size are accepted whatever the logical screen says (matches the probe and codecs/gif.ts). */
const FRAME_SLACK_PIXELS = 1 << 24;

/**
 * Walks the block list: the frames' descriptors and their graphic control, and the NETSCAPE2.0 loop count. Damage
 * after the first frame ends the walk (what came before still plays); damage before it is `corrupt`.
 */
export function walkGif(b: Uint8Array): { header: AnimationHeader; frames: GifFrame[] } {
  if (b.length < 13) throw new CodecError("corrupt", "GIF is truncated inside its header");
  const width = b[6] | (b[7] << 8);
  const height = b[8] | (b[9] << 8);
  const frames: GifFrame[] = [];
  let loop = 0;
  let p = 13;
  const flags = b[10];
  let globalPalette: Uint8Array | undefined;
  if (flags & 0x80) {
    const size = 3 << ((flags & 7) + 1);
    globalPalette = b.subarray(p, p + size);
    p += size;
  }
  let control = { disposal: 0, delayCs: 0, transparentIndex: -1 };
  try {
    while (p < b.length) {
      const block = b[p++];
      if (block === 0x3b) break;
      if (block === 0x21) {
        const label = b[p++];
        if (label === 0xf9 && p + 5 <= b.length && b[p] >= 4) {
          const packed = b[p + 1];
          control = { disposal: (packed >> 2) & 7, delayCs: b[p + 2] | (b[p + 3] << 8), transparentIndex: packed & 1 ? b[p + 4] : -1 };
        } else if (label === 0xff && b[p] === 11 && String.fromCharCode(...b.subarray(p + 1, p + 12)) === "NETSCAPE2.0" && b[p + 12] >= 3 && b[p + 13] === 1) {
          loop = b[p + 14] | (b[p + 15] << 8);
        }
        p = skipSubBlocks(b, p);
      } else if (block === 0x2c) {
        if (p + 9 > b.length) throw new CodecError("corrupt", "GIF is truncated in an image descriptor");
        const u16 = (at: number) => b[at] | (b[at + 1] << 8);
        const rect = { left: u16(p), top: u16(p + 2), width: u16(p + 4), height: u16(p + 6) };
        const imageFlags = b[p + 8];
        p += 9;
        let palette = globalPalette;
        if (imageFlags & 0x80) {
          const size = 3 << ((imageFlags & 7) + 1);
          palette = b.subarray(p, p + size);
          p += size;
        }
        if (!palette || p >= b.length) throw new CodecError("corrupt", `GIF frame ${frames.length + 1} has no colour table or no image data`);
        if (rect.width * rect.height > Math.max(4 * width * height, FRAME_SLACK_PIXELS)) {
          throw new CodecError("limit", `GIF frame ${frames.length + 1} (${rect.width}×${rect.height}) is far larger than its ${width}×${height} logical screen`);
        }
        frames.push({ ...rect, interlaced: (imageFlags & 0x40) !== 0, palette, dataAt: p, ...control });
        control = { disposal: 0, delayCs: 0, transparentIndex: -1 };
        p = skipSubBlocks(b, p + 1);
      } else {
        throw new CodecError("corrupt", `GIF has an unknown block 0x${block.toString(16)} at byte ${p - 1}`);
      }
    }
  } catch (error) {
    // A frame cut off inside its data stays listed: its decode ends the animation there (composeGifFrames).
    if (frames.length === 0 || !(error instanceof CodecError)) throw error;
  }
  if (frames.length === 0) throw new CodecError("corrupt", "GIF contains no image");
  return { header: { width, height, frameCount: frames.length, loop }, frames };
}

/**
 * Yields each frame as it is shown: the whole screen, RGBA. The yielded buffer is the compositor's own and
 * changes with the next frame: use it (resize it) before asking for the next one. Holds two screens at most
 * (the second only while a frame with disposal 3 is showing).
 */
export function* composeGifFrames(b: Uint8Array): Generator<ComposedFrame> {
  const { header, frames } = walkGif(b);
  const { width, height } = header;
  if (width === 0 || height === 0) throw new CodecError("corrupt", `GIF logical screen is ${width}×${height}`);
  const screen = new Uint8Array(width * height * 4);
  for (let i = 0; i < frames.length; i++) {
    const frame = frames[i];
    const before = frame.disposal === 3 ? screen.slice() : undefined;
    try {
      if (frame.width * frame.height > 0) decodeFrame(b, frame, screen, width, height, i === 0 ? "the first frame" : `frame ${i + 1}`);
    } catch (error) {
      // A damaged later frame ends the animation where it broke, as browsers play it.
      if (i === 0 || !(error instanceof CodecError)) throw error;
      return;
    }
    yield { rgba: screen, width, height, delayMs: frame.delayCs * 10, index: i };
    if (frame.disposal === 2) clearRect(screen, width, height, frame);
    else if (before) screen.set(before);
  }
}

/** Sets the screen's part of `r` to transparent black. */
export function clearRect(screen: Uint8Array, width: number, height: number, r: { left: number; top: number; width: number; height: number }): void {
  const x1 = Math.min(width, r.left + r.width), y1 = Math.min(height, r.top + r.height);
  if (r.left >= x1) return;
  for (let y = r.top; y < y1; y++) screen.fill(0, (y * width + r.left) * 4, (y * width + x1) * 4);
}
