/**
 * GIF (87a/89a): the first frame, by our own decoder (codecs/gif.ts: bounded LZW), composed onto the logical
 * screen. No EXIF.
 */
import type { EngineModules } from "../modules.ts";
import { CodecError } from "../errors.ts";
import { asCodecError, rasterFromRgba } from "../decode.ts";
import { decodeGifFirstFrame } from "../codecs/gif.ts";
import { Reader, ascii } from "./reader.ts";
import type { ImageFormatModule, ImageHeader } from "./types.ts";

export const gif: ImageFormatModule = {
  label: "GIF",
  contentType: "image/gif",
  sniff: (b) => b.length >= 6 && (ascii(b, 0, 6) === "GIF87a" || ascii(b, 0, 6) === "GIF89a"),
  probe: probeGif,
  // Their decoders are built from the bytes without reading them: the header is enough to plan with.
  planningDecoders: (bytes, source) => gif.read(bytes, source, {} as EngineModules).decoders,
  read: (bytes) => ({
    decoders: [{
      name: "gif",
      // codecs/gif.ts decodes in JS straight onto the raster; nothing else is allocated.
      memory: ({ inputBytes, width, height }) => ({ rasterBytes: 4 * width * height, decodeBytes: 2 * inputBytes + 4 * width * height }),
      async decode(_scale, { keepAlpha }) {
        try {
          return { raster: rasterFromRgba(decodeGifFirstFrame(bytes), keepAlpha), decoderHeapBytes: 0 };
        } catch (e) {
          throw asCodecError(e, "GIF decode");
        }
      },
    }],
    exif: () => undefined,
  }),
};

function probeGif(bytes: Uint8Array): ImageHeader {
  const r = new Reader(bytes);
  r.pos = 6;
  const width = r.u16le();
  const height = r.u16le();
  const flags = r.u8();
  r.pos += 2;
  if (flags & 0x80) r.pos += 3 * (1 << ((flags & 7) + 1));
  let hasAlpha = false;
  let frames = 0;
  let firstFrame = { width: 0, height: 0 };
  let trailer = false;
  // Count frames (up to two: we only need to know whether it is animated) and look for transparency. Damage
  // after the first image descriptor ends the scan rather than the upload: the first frame is what we render.
  try {
    while (r.remaining() > 0 && frames < 2) {
      const block = r.u8();
      if (block === 0x3b) {
        trailer = true;
        break;
      }
      if (block === 0x21) {
        const label = r.u8();
        if (label === 0xf9 && r.remaining() >= 2 && r.bytes[r.pos] === 4 && (r.bytes[r.pos + 1] & 1)) hasAlpha = true;
        skipGifSubBlocks(r);
      } else if (block === 0x2c) {
        frames++;
        r.pos += 4;
        const frame = { width: r.u16le(), height: r.u16le() };
        if (frames === 1) firstFrame = frame;
        const imageFlags = r.u8();
        if (imageFlags & 0x80) r.pos += 3 * (1 << ((imageFlags & 7) + 1));
        r.u8(); // LZW minimum code size
        skipGifSubBlocks(r);
      } else {
        throw new CodecError("corrupt", `GIF has an unknown block 0x${block.toString(16)}`);
      }
    }
  } catch (error) {
    if (frames === 0) throw error;
  }
  // One frame, then the bytes ended (a prefix, or a cut file) or were damaged before the trailer: whether more
  // frames follow is not known.
  const animationUnknown = frames === 1 && !trailer;
  if (frames === 0) throw new CodecError("corrupt", "GIF contains no image");
  // We render the first frame clipped to the logical screen, and the screen is what memory is planned for;
  // but the GIF decoder expands the whole frame first. A frame far larger than its screen (up to 65535×65535
  // in a few bytes) is a decompression bomb, not a picture.
  const frameArea = firstFrame.width * firstFrame.height;
  if (frameArea > Math.max(4 * width * height, GIF_FRAME_SLACK_PIXELS)) {
    throw new CodecError("limit", `GIF's first frame (${firstFrame.width}×${firstFrame.height}) is far larger than its ${width}×${height} logical screen`);
  }
  return { format: "gif", width, height, orientation: 1, hasAlpha, progressive: false, animated: frames > 1, ...(animationUnknown ? { animationUnknown: true as const } : {}) };
}

/** Frames up to this size are accepted whatever the logical screen says (some encoders write 0×0 screens). */
const GIF_FRAME_SLACK_PIXELS = 1 << 24;

function skipGifSubBlocks(r: Reader): void {
  for (;;) {
    const size = r.u8();
    if (size === 0) return;
    r.need(size, "GIF");
    r.pos += size;
  }
}
