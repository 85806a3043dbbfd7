// Animated fixtures, written by sharp (cgif for GIF, WebPAnimEncoder for WebP), then patched where a test needs a
// disposal or blend mode sharp's encoders do not choose themselves: the reference is sharp's decode of the
// patched file, so any valid patch is a fair test.
import sharp from "sharp";

export const AW = 48;
export const AH = 32;
export const FRAMES = 4;
export const DELAYS = [100, 200, 50, 300];

/**
 * `FRAMES` frames of `AW × AH`: a soft gradient, a square that moves and half of each frame transparent from
 * frame 1 on, so disposal and blending show.
 */
export function animationFrames(): Buffer {
  const frame = AW * AH * 4;
  const data = Buffer.alloc(frame * FRAMES);
  for (let f = 0; f < FRAMES; f++) {
    for (let y = 0; y < AH; y++) {
      for (let x = 0; x < AW; x++) {
        const o = f * frame + (y * AW + x) * 4;
        const inSquare = x >= 6 + 8 * f && x < 18 + 8 * f && y >= 8 && y < 20;
        const transparent = f > 0 && y >= AH / 2 && !inSquare;
        data[o] = inSquare ? 230 : (x * 5) & 255;
        data[o + 1] = inSquare ? 40 : (y * 7) & 255;
        data[o + 2] = inSquare ? 60 : 120 + f * 30;
        data[o + 3] = transparent ? 0 : 255;
      }
    }
  }
  return data;
}

const raw = () => sharp(animationFrames(), { raw: { width: AW, height: AH * FRAMES, channels: 4, pageHeight: AH } });

export const animatedGif = () => raw().gif({ delay: DELAYS, loop: 0, dither: 0 }).toBuffer();
export const animatedWebp = (lossless = false) => raw().webp({ delay: DELAYS, loop: 3, lossless, quality: 90 }).toBuffer();

/**
 * The GIF with every graphic control extension's disposal method set to `disposal` (0–3). For 2 (restore to
 * background) every frame also gets cgif's transparent index: browsers (and we) restore to transparent, while
 * libnsgif, sharp's decoder, restores a frame without transparency to the opaque background colour instead.
 */
export function withGifDisposal(gif: Buffer, disposal: number): Buffer {
  const out = Buffer.from(gif);
  let patched = 0;
  for (let p = 13; p + 8 < out.length; p++) {
    if (out[p] === 0x21 && out[p + 1] === 0xf9 && out[p + 2] === 4 && out[p + 7] === 0) {
      out[p + 3] = (out[p + 3] & ~0x1c) | (disposal << 2) | (disposal === 2 ? 1 : 0);
      patched++;
    }
  }
  if (patched === 0) throw new Error("fixture: no graphic control extension to patch");
  return out;
}

/** The WebP with every ANMF frame's blend and dispose bits set. */
export function withWebpModes(webp: Buffer, modes: { blend: boolean; dispose: boolean }): Buffer {
  const out = Buffer.from(webp);
  let patched = 0;
  for (let p = 12; p + 8 <= out.length;) {
    const fourcc = out.toString("latin1", p, p + 4);
    const size = out.readUInt32LE(p + 4);
    if (fourcc === "ANMF") {
      out[p + 8 + 15] = (modes.blend ? 0 : 0x02) | (modes.dispose ? 0x01 : 0);
      patched++;
    }
    p += 8 + size + (size & 1);
  }
  if (patched === 0) throw new Error("fixture: no ANMF chunk to patch");
  return out;
}

/** sharp's decode of every frame: RGBA per frame, the delays and the loop count. */
export async function sharpFrames(bytes: Uint8Array): Promise<{ frames: Buffer[]; delay: number[]; loop: number; width: number; height: number }> {
  const meta = await sharp(bytes, { animated: true }).metadata();
  const { data, info } = await sharp(bytes, { animated: true }).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const height = meta.pageHeight!;
  const frameBytes = info.width * height * 4;
  const frames = Array.from({ length: meta.pages! }, (_, i) => data.subarray(i * frameBytes, (i + 1) * frameBytes));
  return { frames, delay: meta.delay ?? [], loop: meta.loop ?? 0, width: info.width, height };
}

/** Transparent pixels compared as transparent black, whatever colour they carry. */
export function premultiplied(rgba: Uint8Array): Uint8Array {
  const out = new Uint8Array(rgba.length);
  for (let i = 0; i < rgba.length; i += 4) {
    const a = rgba[i + 3];
    out[i] = (rgba[i] * a) / 255;
    out[i + 1] = (rgba[i + 1] * a) / 255;
    out[i + 2] = (rgba[i + 2] * a) / 255;
    out[i + 3] = a;
  }
  return out;
}
