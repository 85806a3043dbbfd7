/**
 * First frame of a GIF (87a/89a), composed onto its logical screen as RGBA.
 *
 * Our own decoder because the one we used (omggif) trusts the LZW stream: a corrupt stream can make a code its
 * own prefix, and its chain walk then never ends. Here every table entry is built from an older entry, so chains
 * end by construction, and every walk is additionally bounded by the entry's recorded length; any code the
 * table cannot have is `corrupt`. Output is bounded by the frame's pixel count: extra data is ignored, and
 * an image-data stream that ends early (end code or block terminator) leaves the rest of the screen
 * transparent, as browsers draw it; a file cut off inside the frame's data is `corrupt`, as a JPEG without
 * its EOI is here.
 */
import { CodecError } from "../errors.ts";

export interface GifImage {
  /** RGBA, `width × height × 4`. */
  data: Uint8Array;
  width: number;
  height: number;
}

/** Frames up to this size are accepted whatever the logical screen says (matches the probe). */
const FRAME_SLACK_PIXELS = 1 << 24;
/** LZW codes are at most 12 bits wide, so the table never holds more than 4096 entries. */
const MAX_CODES = 4096;

export interface FrameHeader {
  left: number;
  top: number;
  width: number;
  height: number;
  interlaced: boolean;
  palette: Uint8Array;
  /** Colour index drawn as transparent, or -1. */
  transparentIndex: number;
  /** Where the LZW minimum code size byte is. */
  dataAt: number;
}

/** Decodes the first frame of `input` onto a transparent canvas the size of the logical screen. */
export function decodeGifFirstFrame(input: Uint8Array): GifImage {
  const ascii = String.fromCharCode(...input.subarray(0, 6));
  if (ascii !== "GIF87a" && ascii !== "GIF89a") throw new CodecError("corrupt", "not a GIF: bad signature");
  if (input.length < 13) throw new CodecError("corrupt", "GIF is truncated inside its header");
  const width = input[6] | (input[7] << 8);
  const height = input[8] | (input[9] << 8);
  if (width === 0 || height === 0) throw new CodecError("corrupt", `GIF logical screen is ${width}×${height}`);
  const frame = readFirstFrameHeader(input, width, height);
  const frameArea = frame.width * frame.height;
  if (frameArea > Math.max(4 * width * height, FRAME_SLACK_PIXELS)) {
    throw new CodecError("limit", `GIF's first frame (${frame.width}×${frame.height}) is far larger than its ${width}×${height} logical screen`);
  }
  const data = new Uint8Array(width * height * 4);
  if (frameArea > 0) decodeFrame(input, frame, data, width, height);
  return { data, width, height };
}

function readFirstFrameHeader(b: Uint8Array, screenWidth: number, screenHeight: number): FrameHeader {
  let p = 13;
  const need = (n: number, where: string) => {
    if (p + n > b.length) throw new CodecError("corrupt", `GIF is truncated in ${where}`);
  };
  const flags = b[10];
  let globalPalette: Uint8Array | undefined;
  if (flags & 0x80) {
    const size = 3 << ((flags & 7) + 1);
    need(size, "the global colour table");
    globalPalette = b.subarray(p, p + size);
    p += size;
  }
  let transparentIndex = -1;
  for (;;) {
    need(1, "the block list");
    const block = b[p++];
    if (block === 0x21) {
      need(1, "an extension");
      const label = b[p++];
      // Graphic control extension: its transparency applies to the next image, the one we decode.
      if (label === 0xf9 && p + 5 <= b.length && b[p] >= 4) transparentIndex = b[p + 1] & 1 ? b[p + 4] : -1;
      p = skipSubBlocks(b, p);
    } else if (block === 0x2c) {
      need(9, "the image descriptor");
      const u16 = (at: number) => b[at] | (b[at + 1] << 8);
      const header = { left: u16(p), top: u16(p + 2), width: u16(p + 4), height: u16(p + 6) };
      const imageFlags = b[p + 8];
      p += 9;
      let palette = globalPalette;
      if (imageFlags & 0x80) {
        const size = 3 << ((imageFlags & 7) + 1);
        need(size, "the local colour table");
        palette = b.subarray(p, p + size);
        p += size;
      }
      if (!palette) throw new CodecError("corrupt", "GIF's first frame has no colour table (neither global nor local)");
      return { ...header, interlaced: (imageFlags & 0x40) !== 0, palette, transparentIndex, dataAt: p };
    } else if (block === 0x3b) {
      throw new CodecError("corrupt", `GIF contains no image (${screenWidth}×${screenHeight} screen, trailer before any frame)`);
    } else {
      throw new CodecError("corrupt", `GIF has an unknown block 0x${block.toString(16)} at byte ${p - 1}`);
    }
  }
}

/** Position after a run of data sub-blocks and its terminator; a truncated run ends at the end of input. */
export function skipSubBlocks(b: Uint8Array, p: number): number {
  while (p < b.length) {
    const size = b[p];
    p += 1 + size;
    if (size === 0) return p;
  }
  throw new CodecError("corrupt", "GIF is truncated inside an extension");
}

/**
 * LZW-decodes the frame's index stream and writes each pixel straight onto the screen (clipped), in stream
 * order — the frame itself is never held, so a frame larger than the screen costs no memory.
 */
export function decodeFrame(b: Uint8Array, frame: FrameHeader, out: Uint8Array, screenWidth: number, screenHeight: number, which = "the first frame"): void {
  if (frame.dataAt >= b.length) throw new CodecError("corrupt", `GIF is truncated before ${which}'s image data`);
  const minCodeSize = b[frame.dataAt];
  if (minCodeSize < 1 || minCodeSize > 11) throw new CodecError("corrupt", `GIF LZW minimum code size ${minCodeSize} is outside 1–11`);

  // Sub-block reader: `blockEnd` is where the current sub-block's bytes end.
  let p = frame.dataAt + 1;
  let blockEnd = p;
  let ended = false;
  let truncated = false;
  const nextByte = (): number => {
    if (p >= blockEnd) {
      if (p >= b.length || b[p] === 0) {
        ended = true;
        truncated = p >= b.length;
        return 0;
      }
      blockEnd = p + 1 + b[p];
      p++;
      if (blockEnd > b.length) blockEnd = b.length;
      if (p >= blockEnd) {
        ended = true;
        truncated = true;
        return 0;
      }
    }
    return b[p++];
  };

  // Colour lookup: 0 alpha for the transparent index; indices beyond the palette are drawn black.
  const colours = new Uint8Array(256 * 4);
  const paletteSize = frame.palette.length / 3;
  for (let i = 0; i < 256; i++) {
    if (i < paletteSize) colours.set(frame.palette.subarray(i * 3, i * 3 + 3), i * 4);
    colours[i * 4 + 3] = i === frame.transparentIndex ? 0 : 255;
  }

  // Pixel writer: stream position → (x, row) of the frame, with the interlace pass order.
  const total = frame.width * frame.height;
  let written = 0;
  let x = 0;
  let row = 0;
  let pass = 0;
  const passStart = [0, 4, 2, 1];
  const passStep = [8, 8, 4, 2];
  const put = (index: number) => {
    const sx = frame.left + x;
    const sy = frame.top + row;
    if (sx < screenWidth && sy < screenHeight) {
      const c = index * 4;
      if (colours[c + 3] !== 0) {
        const o = (sy * screenWidth + sx) * 4;
        out[o] = colours[c];
        out[o + 1] = colours[c + 1];
        out[o + 2] = colours[c + 2];
        out[o + 3] = 255;
      }
    }
    written++;
    if (++x === frame.width) {
      x = 0;
      if (!frame.interlaced) row++;
      else {
        row += passStep[pass];
        while (row >= frame.height && pass < 3) row = passStart[++pass];
      }
    }
  };

  const clearCode = 1 << minCodeSize;
  const endCode = clearCode + 1;
  const prefix = new Uint16Array(MAX_CODES);
  const suffix = new Uint8Array(MAX_CODES);
  const first = new Uint8Array(MAX_CODES);
  const length = new Uint16Array(MAX_CODES);
  for (let c = 0; c < clearCode; c++) {
    suffix[c] = c;
    first[c] = c;
    length[c] = 1;
  }
  const stack = new Uint8Array(MAX_CODES);
  let codeSize = minCodeSize + 1;
  let nextCode = clearCode + 2;
  let previous = -1;
  let bits = 0;
  let bitCount = 0;

  while (written < total) {
    while (bitCount < codeSize) {
      const byte = nextByte();
      if (ended) break;
      bits |= byte << bitCount;
      bitCount += 8;
    }
    if (bitCount < codeSize) {
      // Like a JPEG without EOI, a file cut inside the frame is damaged, not a picture with a transparent end.
      if (truncated) throw new CodecError("corrupt", `GIF is truncated inside ${which}'s image data (${written} of ${total} pixels)`);
      return; // the stream ended early but properly: the rest stays transparent, as browsers draw it
    }
    const code = bits & ((1 << codeSize) - 1);
    bits >>>= codeSize;
    bitCount -= codeSize;

    if (code === clearCode) {
      codeSize = minCodeSize + 1;
      nextCode = clearCode + 2;
      previous = -1;
      continue;
    }
    if (code === endCode) return;

    let emit: number; // the code whose string is written (for code === nextCode, the new entry)
    if (previous < 0) {
      if (code >= clearCode) throw new CodecError("corrupt", `GIF LZW stream starts with code ${code}, not a colour index`);
      emit = code;
    } else {
      if (code > nextCode || code >= MAX_CODES) {
        throw new CodecError("corrupt", `GIF LZW code ${code} is outside the table (${nextCode} entries)`);
      }
      if (nextCode < MAX_CODES) {
        // New entry: previous string + first index of the current one (of previous itself when code is new).
        prefix[nextCode] = previous;
        suffix[nextCode] = code === nextCode ? first[previous] : first[code];
        first[nextCode] = first[previous];
        length[nextCode] = length[previous] + 1;
        nextCode++;
        if (nextCode === 1 << codeSize && codeSize < 12) codeSize++;
      }
      emit = code;
    }
    // Walk the chain back to its root; bounded by the entry's length, which is ≤ MAX_CODES by construction.
    const n = length[emit];
    let c = emit;
    for (let i = n - 1; i >= 0; i--) {
      if (c >= nextCode && c >= clearCode) throw new CodecError("corrupt", "GIF LZW table is inconsistent");
      stack[i] = suffix[c];
      c = prefix[c];
    }
    const count = Math.min(n, total - written);
    for (let i = 0; i < count; i++) put(stack[i]);
    previous = code;
  }
}
