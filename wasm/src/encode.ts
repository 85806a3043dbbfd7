/**
 * Encode step: one raster to one output format via jSquash, with settings chosen for the edge (CPU time per
 * request matters more than the last few percent of bytes). The reasoning is repeated in wasm/README.md.
 */
import { CodecError } from "./errors.ts";
import type { Raster } from "./raster.ts";
import type { EngineModules } from "./modules.ts";
import { AVIF_MAX_DIMENSION, type OutputFormat } from "./vocabulary.ts";
import {
  instantiateAvifEncoder,
  instantiateMozjpegEncoder,
  instantiatePngCodec,
  acquireWebpEncoder,
  releaseWebpEncoder,
} from "./codecs/instances.ts";
import { toRgba } from "./pixels.ts";
import { embedExifInJpeg, embedExifInWebp } from "./metadata.ts";


/** WebP outputs up to this many pixels (640×480: thumbnails) are encoded with libwebp method 2, larger ones with 4. */
export const WEBP_FAST_METHOD_MAX_PIXELS = 640 * 480;

function encoderFailure(format: string, e: unknown, messages: string[]): CodecError {
  if (e instanceof CodecError) return e;
  const reason = e instanceof Error ? e.message : String(e);
  // An encoder failing on valid pixels is our limit (memory, size), not the caller's data.
  return new CodecError("limit", `${format} encode failed: ${reason}${messages.length ? ` (${messages.join("; ")})` : ""}`);
}

export interface Encoded {
  bytes: Uint8Array;
  /** Linear memory the encoder instance grew to, plus the RGBA copy it was handed (for the memory record). */
  workBytes: number;
}

export async function encodeRaster(
  raster: Raster,
  format: OutputFormat,
  quality: number,
  modules: EngineModules,
  exif?: Uint8Array,
  options: { reuseEncoder?: boolean; fast?: boolean } = {},
): Promise<Encoded> {
  const { width, height } = raster;
  switch (format) {
    case "jpeg": {
      const codec = await instantiateMozjpegEncoder(modules.mozjpegEnc);
      try {
        // Baseline with optimised Huffman tables, not progressive. jSquash's mozjpeg build always runs trellis
        // quantisation (no option turns it off). Measured on a 1024×768 photo at q85: progressive 163 ms /
        // 17.5 KB, baseline-optimised 90 ms / 18.7 KB (+7%), sharp's libjpeg-turbo 9 ms / 19.1 KB. The JPEG is
        // the fallback rendition (clients without WebP/AVIF), so we do not spend 70 ms more per image on it.
        // 4:2:0 chroma (auto_subsample), like every web JPEG.
        const rgba = toRgba(raster);
        const out = codec.api.encode(rgba, width, height, {
          quality, baseline: false, arithmetic: false, progressive: false, optimize_coding: !options.fast, smoothing: 0,
          color_space: 3, quant_table: 3, trellis_multipass: false, trellis_opt_zero: false, trellis_opt_table: false,
          trellis_loops: 1, auto_subsample: true, chroma_subsample: 2, separate_chroma_quality: false, chroma_quality: quality,
        });
        const bytes = new Uint8Array(out); // copy out of the (soon dead) wasm heap
        return { bytes: exif ? embedExifInJpeg(bytes, exif) : bytes, workBytes: codec.memory.buffer.byteLength + rgba.byteLength };
      } catch (e) {
        throw encoderFailure("JPEG", e, codec.messages);
      }
    }
    case "webp": {
      const codec = await acquireWebpEncoder(modules.webpEnc);
      let keep = false;
      try {
        // method 4 (libwebp's default, sharp's effort 4) above thumbnail size: method 6 measured 2–6.5× slower
        // (1 MP: 0.9 s → 5.7 s on noise) and 25% more heap for ~3–5% fewer bytes. For thumbnails method 2:
        // measured on 320 px thumbnails of the bench photos, 2.4× faster (7.7 → 3.2 ms smooth, 12.9 → 5.1 ms
        // noise) for +1–2.5% bytes and −0.1 to −0.7 dB PSNR (method 3 is no faster than 4). Method 2 is what
        // sharp writes at effort 2, byte for byte. No sharp-YUV (slower; sharp's default too).
        // compression=fast: method 0, libwebp's quickest.
        const method = options.fast ? 0 : width * height <= WEBP_FAST_METHOD_MAX_PIXELS ? 2 : 4;
        const rgba = toRgba(raster);
        const out = codec.api.encode(rgba, width, height, {
          quality, target_size: 0, target_PSNR: 0, method, sns_strength: 50, filter_strength: 60, filter_sharpness: 0,
          filter_type: 1, partitions: 0, segments: 4, pass: 1, show_compressed: 0, preprocessing: 0, autofilter: 0,
          partition_limit: 0, alpha_compression: 1, alpha_filtering: 1, alpha_quality: 100, lossless: 0, exact: 0,
          image_hint: 0, emulate_jpeg_size: 0, thread_level: 0, low_memory: 0, near_lossless: 100, use_delta_palette: 0,
          use_sharp_yuv: 0,
        });
        if (!out) throw new Error("libwebp returned no data");
        const bytes = new Uint8Array(out);
        keep = options.reuseEncoder === true;
        return { bytes: exif ? embedExifInWebp(bytes, exif, width, height, raster.channels === 4) : bytes, workBytes: codec.memory.buffer.byteLength + rgba.byteLength };
      } catch (e) {
        throw encoderFailure("WebP", e, codec.messages);
      } finally {
        // An instance that failed (abort, trap) may be in any state: only a clean one is kept.
        releaseWebpEncoder(modules.webpEnc, codec, keep);
      }
    }
    case "avif": {
      if (Math.max(width, height) > AVIF_MAX_DIMENSION) {
        throw new CodecError("limit", `AVIF output ${width}×${height} is over the ${AVIF_MAX_DIMENSION} px AVIF_MAX_DIMENSION limit`);
      }
      const codec = await instantiateAvifEncoder(modules.avifEnc);
      try {
        // aom speed 8: ~4× faster than jSquash's default 6 for ~5–8% more bytes. Single-threaded at the edge,
        // a 1200 px AVIF at speed 6 takes seconds; at 8 it stays well under one. 4:2:0, 8-bit.
        const rgba = toRgba(raster);
        const out = codec.api.encode(rgba, width, height, {
          quality, qualityAlpha: -1, denoiseLevel: 0, tileColsLog2: 0, tileRowsLog2: 0, speed: options.fast ? 10 : 8, subsample: 1,
          chromaDeltaQ: false, sharpness: 0, tune: 0, enableSharpYUV: false, bitDepth: 8, lossless: false,
        });
        if (!out) throw new Error("libavif returned no data");
        return { bytes: new Uint8Array(out), workBytes: codec.memory.buffer.byteLength + rgba.byteLength };
      } catch (e) {
        throw encoderFailure("AVIF", e, codec.messages);
      }
    }
    case "png": {
      try {
        // Rust `png` crate defaults, RGBA 8-bit; no oxipng pass (not installed): bigger files, much less CPU.
        const codec = instantiatePngCodec(modules.pngCodec);
        const rgba = toRgba(raster);
        const bytes = codec.api.encode(rgba, width, height);
        return { bytes, workBytes: codec.memory.buffer.byteLength + rgba.byteLength };
      } catch (e) {
        throw encoderFailure("PNG", e, []);
      }
    }
  }
}
