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

/**
 * Cloudflare's filters, each a number in its range that changes nothing at `none`: blur (a radius, 1–250) and
 * sharpen (a strength, 0–10) from 0; brightness, contrast and gamma factors where Cloudflare ignores 0 (taken as
 * `none`), saturation a factor from 0 (greyscale). Cloudflare documents no upper bound for the factors: 10 is ours
 * (ten times as bright is white already) and keeps the lookup tables bounded.
 */
export const FILTERS = {
  blur: { min: 1, max: 250, none: 0 },
  sharpen: { min: 0, max: 10, none: 0 },
  brightness: { min: 0, max: 10, none: 1, aboveMin: true },
  contrast: { min: 0, max: 10, none: 1, aboveMin: true },
  gamma: { min: 0, max: 10, none: 1, aboveMin: true },
  saturation: { min: 0, max: 10, none: 1 },
} as const satisfies Record<string, { min: number; max: number; none: number; aboveMin?: true }>;
export type FilterName = keyof typeof FILTERS;

/** Whether `value` is in the filter's range (or is its `none`). */
export function filterInRange(name: FilterName, value: number): boolean {
  const f: { min: number; max: number; none: number; aboveMin?: true } = FILTERS[name];
  return value === f.none || ((f.aboveMin ? value > f.min : value >= f.min) && value <= f.max);
}
export const FILTER_NAMES = Object.keys(FILTERS) as FilterName[];
export type Filters = Record<FilterName, number>;
export const NO_FILTERS: Readonly<Filters> = Object.freeze(
  Object.fromEntries(FILTER_NAMES.map((name) => [name, FILTERS[name].none])) as Filters,
);
