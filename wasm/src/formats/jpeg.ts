/**
 * JPEG: one marker walk (jpeg-markers.ts) serves the probe, the plan, the EXIF and our decoder's header.
 * Decoders, preferred first: our DCT-scaling kernel (when the engine has it and its header reader says
 * `supported`), then mozjpeg at full size. What neither implements — arithmetic coding, 12-bit, lossless — is
 * `unsupported`; CMYK/YCCK needs our decoder (jSquash's mozjpeg asks libjpeg for RGBA, which it refuses for CMYK:
 * "Unsupported color conversion request"). With an embedded CMYK profile our decoder hands back CMYK ink, converted
 * to sRGB through the profile right after the decode (icc/cmyk.ts); without one, its naive conversion.
 */
import { CodecError } from "../errors.ts";
import { exifOrientation, exifTiff } from "../exif.ts";
import { kernels, type JpegHeader, type LoadedJpeg } from "../kernels.ts";
import { chooseDecodeScale } from "../plan.ts";
import { asCodecError, rasterFromRgba, rgbaDecodeMemory } from "../decode.ts";
import type { CodecImage } from "../codecs/instances.ts";
import { jpegIccProfile } from "../icc/containers.ts";
import { CMYK_TABLE_BYTES } from "../icc/cmyk.ts";
import { readJpegMarkers, type JpegFrame, type JpegMarkers } from "./jpeg-markers.ts";
import type { ImageFormatModule, ImageHeader, SourceDecoder } from "./types.ts";

const MiB = 1024 * 1024;

export const jpeg: ImageFormatModule = {
  label: "JPEG",
  contentType: "image/jpeg",
  sniff: (b) => b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff,
  probe: (bytes) => headerOf(readJpegMarkers(bytes, { toEnd: false }), bytes.length),
  inputMemory(byteLength, modules) {
    if (!kernels.jpeg || !modules.jpeg) return undefined;
    const loaded = kernels.jpeg.allocateJpeg(modules.jpeg, byteLength);
    const view = kernels.jpeg.jpegInputView(loaded);
    inKernelMemory.set(view, loaded);
    return view;
  },
  planningDecoders(bytes, _source, byteLength) {
    const markers = readJpegMarkers(bytes, { toEnd: false });
    const input = { bytes };
    const header = kernels.jpeg!.jpegHeaderOf(markers, byteLength);
    // Streamed from storage, as the processor hands every original on, the file goes into our kernel's memory.
    // The profile's APP2 segments may lie past the bytes probed: any CMYK file is planned as if tagged (ink, 4 B/px).
    return [...(header.supported ? [kernelDecoder(input, header, undefined, true, true)] : []), mozjpegDecoder(input, markers.frame!)];
  },
  read(bytes, source, modules) {
    const markers = readJpegMarkers(bytes, { toEnd: true });
    const frame = markers.frame;
    if (!frame) throw new CodecError("corrupt", "JPEG has no frame header (SOF)");
    // Decoders fill a truncated scan with grey/flat blocks and call it a success; we call it corrupt.
    if (!markers.complete) throw new CodecError("corrupt", "JPEG is truncated: no end-of-image marker");
    if (frame.width !== source.width || frame.height !== source.height) {
      throw new CodecError("corrupt", `JPEG frame is ${frame.width}×${frame.height}, the probe said ${source.width}×${source.height}`);
    }
    // Both decoders read the file through `input`. Where the engine streamed it into our kernel's memory, the
    // kernel decodes it there and hands a copy back when it meets something only mozjpeg decodes. Either sees the
    // first image only: an MPF file's gain map after its EOI is no part of the picture.
    const input = { bytes: bytes.subarray(0, markers.end) };
    const streamedIn = inKernelMemory.get(bytes);
    const loaded = streamedIn && { ...streamedIn, length: markers.end };
    const decoders: SourceDecoder[] = [];
    if (kernels.jpeg && modules.jpeg) {
      const header = kernels.jpeg.jpegHeaderOf(markers, bytes.length);
      // Over budget with our decoder means mozjpeg (full size, RGBA) would be worse still: the engine refuses.
      if (header.supported) decoders.push(kernelDecoder(input, header, loaded, loaded !== undefined, markers.icc.length > 0));
    }
    decoders.push(mozjpegDecoder(input, frame));
    // The EXIF is copied out now: the kernel's decode grows its memory, which detaches views of the file there.
    const exif = markers.exif && exifTiff(markers.exif).slice();
    const icc = jpegIccProfile(markers.icc); // reassembled into a buffer of its own, like the EXIF copy
    return { decoders, exif: () => exif, iccProfile: () => icc, cmykPixels: frame.components.length === 4 };
  },
};

function headerOf(markers: JpegMarkers, length: number): ImageHeader {
  const frame = markers.frame;
  if (!frame) {
    switch (markers.headerEnd) {
      case "bad-length": throw new CodecError("corrupt", "JPEG segment with an invalid length");
      case "truncated": throw new CodecError("corrupt", `JPEG header is truncated (at byte ${markers.headerEndAt} of ${length})`);
      default: throw new CodecError("corrupt", "JPEG has no frame header (SOF) before its scan data");
    }
  }
  if (frame.height === 0) throw new CodecError("unsupported", "JPEG with height defined by DNL is not supported");
  // Refused here, from the header, so an upload neither decoder can read is answered 415 at once (both upload
  // paths probe) instead of being accepted and then failing in the processor.
  const refusal = undecodableCoding(frame);
  if (refusal) throw new CodecError("unsupported", refusal);
  return {
    format: "jpeg",
    width: frame.width,
    height: frame.height,
    orientation: exifOrientation(markers.exif),
    hasAlpha: false,
    progressive: frame.progressive,
    animated: false,
  };
}

/**
 * What neither of our decoders implements, named as a user would look it up, or undefined. Our kernel decodes
 * 8-bit Huffman sequential and progressive only; jSquash's mozjpeg build, tried on each: arithmetic coding
 * "Sorry, arithmetic coding is not implemented" (real cjpeg -arithmetic files), 12-bit "Unsupported JPEG data
 * precision 12", lossless and hierarchical "Unsupported JPEG process: SOF type 0xc3" (and 0xc5, 0xcb).
 */
export function undecodableCoding(frame: JpegFrame): string | undefined {
  const sof = `SOF${frame.marker - 0xc0}`;
  if (frame.lossless) return `lossless JPEG (${sof}) is not supported: only lossy 8-bit JPEG decodes`;
  if (frame.arithmetic) return `arithmetic-coded JPEG (${sof}) is not supported: only Huffman-coded JPEG decodes`;
  if (frame.marker === 0xc5 || frame.marker === 0xc6) return `hierarchical JPEG (${sof}) is not supported`;
  if (frame.precision !== 8) return `${frame.precision}-bit JPEG is not supported: only 8-bit samples decode`;
  return undefined;
}

/**
 * Our AssemblyScript decoder (jpeg.ts) at the plan's DCT scale, reading the header the walk already gave. `tagged`:
 * the file carries a profile, so a CMYK one may decode to CMYK ink (4 bytes a pixel) and its conversion's tables.
 */
function kernelDecoder(input: { bytes: Uint8Array }, header: JpegHeader, streamedIn: LoadedJpeg | undefined, holdsInput: boolean, tagged: boolean): SourceDecoder {
  const jpegKernel = kernels.jpeg!;
  const mayDecodeInk = tagged && header.components === 4;
  let loaded = streamedIn;
  return {
    name: "jpeg-kernel",
    chooseScale: chooseDecodeScale,
    holdsInput,
    memory({ inputBytes, width, height, scale }) {
      // Our decoder returns a large raster as a view of its instance memory (which then lives as long as the
      // raster) and copies a small one out (both exist for a moment).
      // CMYK ink is converted to sRGB in its own buffer (icc/cmyk.ts): the raster keeps its 4 bytes a pixel.
      const heap = jpegKernel.estimateJpegDecodeBytes(header, scale, mayDecodeInk);
      const out = width * height * (mayDecodeInk ? 4 : 3);
      const copied = out * 4 < heap;
      const tables = mayDecodeInk ? CMYK_TABLE_BYTES : 0;
      return { rasterBytes: copied ? out : heap, decodeBytes: inputBytes + heap + (copied ? out : 0) + tables };
    },
    async decode(scale, { modules, maxPixels, cmyk }) {
      const cmykInk = mayDecodeInk && cmyk !== undefined;
      try {
        jpegKernel.checkedHeader(input.bytes, scale, { maxPixels, header });
        const instance = loaded ?? jpegKernel.loadJpeg(modules.jpeg!, input.bytes);
        loaded = undefined; // the raster keeps the instance's memory alive where it views it, nothing else does
        try {
          const { raster, heapBytes } = jpegKernel.decodeLoadedJpeg(instance, scale, { maxPixels, header, cmykInk });
          return { raster: cmykInk ? cmyk.toSrgb(raster) : raster, decoderHeapBytes: heapBytes };
        } catch (e) {
          // The file was only in the instance's memory, which the decode grew (detaching the view): a copy for the fallback.
          if (e instanceof CodecError && e.kind === "unsupported" && streamedIn) input.bytes = jpegKernel.loadedJpegBytes(instance);
          throw e;
        }
      } catch (e) {
        throw asCodecError(e, "JPEG decode");
      }
    },
  };
}

/** Files the engine streamed into a kernel instance's memory (inputMemory), by the view it wrote them through. */
const inKernelMemory = new WeakMap<Uint8Array, LoadedJpeg>();

/**
 * mozjpeg's heap, calibrated in Node 22 from `memory.buffer.byteLength` after decoding 1–12 MP images (12 MP
 * baseline: 65 MB = 17 MiB + 4·n; progressive 4:2:0: 100 MB, +3·n of coefficients).
 */
function mozjpegHeap(input: number, w: number, h: number, frame: JpegFrame): number {
  let coefficients = 0;
  if (frame.progressive) {
    // Progressive decoding keeps every DCT coefficient of the image (2 bytes each) until the last scan.
    const hmax = Math.max(1, ...frame.components.map((c) => c.h));
    const vmax = Math.max(1, ...frame.components.map((c) => c.v));
    for (const c of frame.components) {
      coefficients += 2 * Math.ceil((w * c.h) / hmax / 8) * 8 * Math.ceil((h * c.v) / vmax / 8) * 8;
    }
  }
  return 17 * MiB + input + 4 * w * h + coefficients;
}

/** jSquash's mozjpeg at full size: the fallback for what our decoder refuses, or when the engine lacks it. */
function mozjpegDecoder(input: { bytes: Uint8Array }, frame: JpegFrame): SourceDecoder {
  return {
    name: "mozjpeg",
    memory: ({ inputBytes, width, height }) => rgbaDecodeMemory(inputBytes, mozjpegHeap(inputBytes, width, height, frame), width, height),
    async decode(_scale, { modules, codecs }) {
      const refusal = undecodableCoding(frame);
      if (refusal) throw new CodecError("unsupported", refusal);
      if (frame.components.length === 4) {
        // jSquash's mozjpeg build asks for RGBA, and libjpeg refuses that for CMYK/YCCK ("Unsupported color conversion request").
        throw new CodecError("unsupported", "CMYK/YCCK JPEG: the mozjpeg fallback cannot convert it to RGB (needs our JPEG decoder)");
      }
      const codec = await codecs.instantiateMozjpegDecoder(modules.mozjpegDec);
      let image: CodecImage | null;
      try {
        image = codec.api.decode(input.bytes, false);
        // Nothing reads the file after its decode; a copy our kernel handed back is let go with it.
        input.bytes = new Uint8Array(0);
      } catch (e) {
        // libjpeg reports features the build lacks ("... not implemented", "Unsupported ...") through exit().
        if (codec.messages.some((m) => /not implemented|unsupported/i.test(m))) {
          throw new CodecError("unsupported", `JPEG decode (mozjpeg): ${codec.messages.join("; ")}`);
        }
        throw asCodecError(e, "JPEG decode (mozjpeg)", codec.messages);
      }
      if (!image) throw new CodecError("corrupt", `JPEG decode (mozjpeg) failed${codec.messages.length ? `: ${codec.messages.join("; ")}` : ""}`);
      return { raster: rasterFromRgba(image, false), decoderHeapBytes: codec.memory.buffer.byteLength };
    },
  };
}
