/**
 * The input formats: one module per format, one table. The probe (probe.ts), the planner (plan.ts) and the
 * engine (engine.ts) consult FORMATS instead of switching over format names.
 *
 * Adding a format touches three places:
 *   1. its own module here (`formats/<name>.ts`, an `ImageFormatModule`, types.ts): `contentType`, `sniff`,
 *      `probe` (header → size, orientation, alpha; refuse bombs by name), and `read` — the engine's one parse
 *      of the stream, returning its decoders (each with its memory model and `decode`) and its EXIF;
 *   2. this table (the order is the sniffing order; the key becomes an `ImageFormat` everywhere, Workers
 *      included, and its content type joins CONTENT_TYPES);
 *   3. module loading, when it brings a new wasm codec: `EngineModules` (modules.ts), modules.node.ts and
 *      modules.worker.ts, and an instantiator in codecs/instances.ts, which decoders reach through their
 *      `DecodeContext` (so this table stays importable at the upload edge without the codecs' glue).
 * Formats we also write (OUTPUT_FORMATS, vocabulary.ts) additionally need an encoder in encode.ts.
 */
import { avif } from "./avif.ts";
import { gif } from "./gif.ts";
import { heic } from "./heic.ts";
import { jpeg } from "./jpeg.ts";
import { png } from "./png.ts";
import { svg } from "./svg.ts";
import { webp } from "./webp.ts";
import type { ImageFormatModule } from "./types.ts";

// SVG last: the binary formats' magic bytes are checked before any text is tokenized.
export const FORMATS = { jpeg, png, gif, webp, avif, heic, svg } as const satisfies Record<string, ImageFormatModule>;

/** An input format we accept. */
export type ImageFormat = keyof typeof FORMATS;

export const IMAGE_FORMATS = Object.keys(FORMATS) as ImageFormat[];

/** Media type of each format, for stored originals and rendered outputs. */
export const CONTENT_TYPES = Object.fromEntries(IMAGE_FORMATS.map((f) => [f, FORMATS[f].contentType])) as Record<ImageFormat, string>;

/** The accepted formats in words, for messages: "JPEG, PNG, GIF, WebP, AVIF or HEIC". */
export const FORMAT_NAMES = IMAGE_FORMATS.map((f) => FORMATS[f].label).join(", ").replace(/, (?=[^,]*$)/, " or ");

/** Identifies the container by its magic bytes; undefined when it is none we accept. */
export function sniffFormat(bytes: Uint8Array): ImageFormat | undefined {
  return IMAGE_FORMATS.find((f) => FORMATS[f].sniff(bytes));
}

export type { ImageFormatModule, ImageHeader, SourceReading, SourceDecoder, DecodeContext, DecodeResult } from "./types.ts";
