/**
 * Words the engine and the Workers share, defined once here (the input formats and their content types are
 * the FORMATS table's, formats/index.ts). workers/shared/transform.ts validates requests against these.
 */
import type { ImageFormat } from "./formats/index.ts";

/** Formats we encode (each an input format too). */
export const OUTPUT_FORMATS = ["avif", "webp", "jpeg", "png"] as const satisfies readonly ImageFormat[];
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** keep: EXIF carried into JPEG/WebP (orientation reset to 1); copyright: only Copyright/Artist; none: stripped. */
export const METADATA_MODES = ["keep", "copyright", "none"] as const;
export type MetadataMode = (typeof METADATA_MODES)[number];

/** Cloudflare Images does not produce AVIF above this size on the longer side; negotiation falls back. */
export const AVIF_MAX_DIMENSION = 1200;

/** rotate: degrees clockwise, applied after EXIF orientation (Cloudflare's values). */
export const ROTATIONS = [0, 90, 180, 270] as const;
export type Rotation = (typeof ROTATIONS)[number];

/** flip: horizontal, vertical or both, applied before rotate (as Cloudflare documents); none is the default. */
export const FLIPS = ["none", "h", "v", "hv"] as const;
export type Flip = (typeof FLIPS)[number];
