import { sha256Hex } from "./crypto.ts";
import { badRequest, quote } from "./errors.ts";
import { parseDecimalInteger, parseDecimalNumber } from "./numerals.ts";
import { NO_FILTERS, canonicalFilters, isFilterName, parseFilterOption, type Filters } from "./filter-options.ts";
import {
  AVIF_MAX_DIMENSION, FLIPS, METADATA_MODES, OUTPUT_FORMATS, ROTATIONS, type Flip, type MetadataMode, type OutputFormat, type Rotation,
} from "../../wasm/src/vocabulary.ts";

// The engine's vocabulary, defined once in wasm/src/vocabulary.ts; requests are validated against it here.
export { FLIPS, METADATA_MODES, OUTPUT_FORMATS, ROTATIONS, type Flip, type MetadataMode, type OutputFormat, type Rotation };

export const FITS = ["scale-down", "contain", "cover", "crop", "pad"] as const;
/** Named gravities we crop by. */
export const GRAVITIES = ["center", "left", "right", "top", "bottom"] as const;
/** Cloudflare's `gravity=auto`: a saliency crop, placed by the engine on the decoded pixels (wasm/src/saliency.ts). */
export const AUTO_GRAVITY = "auto";

export type Fit = (typeof FITS)[number];
export type RequestedFormat = OutputFormat | "auto";

/** Where a crop keeps its focus: a named edge or a point given as fractions of width and height. */
export type Gravity = (typeof GRAVITIES)[number] | typeof AUTO_GRAVITY | { x: number; y: number };

/** A fully defaulted description of one output, from a named variant or flexible URL options. */
export interface Transform {
  width?: number;
  height?: number;
  fit: Fit;
  quality: number;
  format: RequestedFormat;
  gravity: Gravity;
  metadata: MetadataMode;
  /** RGB background for `pad` and for flattening alpha into JPEG. */
  background: [number, number, number];
  /** Flip, then rotate clockwise, after EXIF orientation; width and height refer to the axes after them (Cloudflare's rule). */
  flip: Flip;
  rotate: Rotation;
  /** Keep an animated original's animation where the output format carries one; false: its first frame. */
  anim: boolean;
  /** blur, sharpen, brightness, contrast, gamma, saturation (filter-options.ts); NO_FILTERS by default. */
  filters: Filters;
}

export const DEFAULT_QUALITY = 85;
/** AVIF is encoded up to this size on the longer side (as Cloudflare Images does); larger falls back to WebP. */
export const AVIF_MAX_SIDE = AVIF_MAX_DIMENSION;
/** The largest output side we render, whatever the options ask for (Cloudflare's limit too). */
export const MAX_OUTPUT_SIDE = 12_000;

/** A named variant's stored options, exactly Cloudflare's shape. */
export interface VariantOptions {
  fit: Fit;
  width: number;
  height: number;
  metadata: MetadataMode;
}

export function transformOfVariant(options: VariantOptions): Transform {
  return {
    width: options.width,
    height: options.height,
    fit: options.fit,
    quality: DEFAULT_QUALITY,
    format: "auto",
    gravity: "center",
    metadata: options.metadata,
    background: [255, 255, 255],
    flip: "none",
    rotate: 0,
    anim: true,
    filters: { ...NO_FILTERS },
  };
}

/** Validates a variant definition from the management API (POST/PATCH body `options`). */
export function parseVariantOptions(raw: unknown, previous?: VariantOptions): VariantOptions {
  if (raw === undefined && previous) return previous;
  if (!raw || typeof raw !== "object") throw badRequest("options must be an object with fit, width, height and metadata");
  const o = raw as Record<string, unknown>;
  const pick = <K extends keyof VariantOptions>(key: K): unknown => (o[key] === undefined ? previous?.[key] : o[key]);
  const fit = pick("fit");
  if (!FITS.includes(fit as Fit)) throw badRequest(`options.fit must be one of ${FITS.join(", ")}, got ${JSON.stringify(fit)}`);
  const metadata = pick("metadata") ?? "none";
  if (!METADATA_MODES.includes(metadata as MetadataMode)) {
    throw badRequest(`options.metadata must be one of ${METADATA_MODES.join(", ")}, got ${JSON.stringify(metadata)}`);
  }
  return {
    fit: fit as Fit,
    width: dimension(pick("width"), "options.width", true),
    height: dimension(pick("height"), "options.height", true),
    metadata: metadata as MetadataMode,
  };
}

function dimension(value: unknown, name: string, required: true): number;
function dimension(value: unknown, name: string, required: false): number | undefined;
function dimension(value: unknown, name: string, required: boolean): number | undefined {
  if (value === undefined || value === null) {
    if (required) throw badRequest(`${name} is required`);
    return undefined;
  }
  // A JSON body may carry the number itself; text (a URL, a form) must be plain decimal digits.
  const n = typeof value === "string" ? parseDecimalInteger(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > MAX_OUTPUT_SIDE) {
    throw badRequest(`${name} must be an integer from 1 to ${MAX_OUTPUT_SIDE} in decimal digits, got ${quote(value)}`);
  }
  return n;
}

/** The device pixel ratio multiplies width and height; 10 is far beyond any screen and keeps requests bounded. */
const MAX_DPR = 10;

/** Splits one `name=value` option of a raw URL segment and percent-decodes each half exactly once. */
function decodeOption(part: string): { rawName: string; value: string } {
  const eq = part.indexOf("=");
  if (eq <= 0) throw badRequest(`flexible variant option ${quote(part)} must be name=value`);
  const decode = (text: string) => {
    try {
      return decodeURIComponent(text);
    } catch {
      throw badRequest(`flexible variant option ${quote(part)} has a malformed percent-escape`);
    }
  };
  return { rawName: decode(part.slice(0, eq)), value: decode(part.slice(eq + 1)) };
}

const FLEXIBLE_ALIASES: Record<string, string> = {
  w: "width",
  h: "height",
  q: "quality",
  f: "format",
  g: "gravity",
  bg: "background",
};

/**
 * Parses flexible-variant options in Cloudflare's URL syntax, e.g. `w=400,h=300,fit=cover,f=auto,q=75,dpr=2`.
 * Takes the path segment as it came over the wire, still percent-encoded: options are split on the literal
 * commas, then each name and value is decoded once (so `%2C` is a comma inside a value, and `%2531` stays `%31`).
 * Unknown options and bad values are refused with a message that names them.
 */
export function parseFlexibleOptions(rawSegment: string): Transform {
  const transform: Transform = {
    fit: "scale-down",
    quality: DEFAULT_QUALITY,
    format: "auto",
    gravity: "center",
    metadata: "none",
    background: [255, 255, 255],
    flip: "none",
    rotate: 0,
    anim: true,
    filters: { ...NO_FILTERS },
  };
  let dpr = 1;
  const seen = new Set<string>();
  for (const part of rawSegment.split(",")) {
    if (!part) continue;
    const { rawName, value } = decodeOption(part);
    const name = Object.hasOwn(FLEXIBLE_ALIASES, rawName) ? FLEXIBLE_ALIASES[rawName] : rawName;
    if (seen.has(name)) throw badRequest(`flexible variant option ${name} is given twice`);
    seen.add(name);
    switch (name) {
      case "width":
        transform.width = dimension(value, "width", true);
        break;
      case "height":
        transform.height = dimension(value, "height", true);
        break;
      case "fit":
        if (!FITS.includes(value as Fit)) throw badRequest(`fit must be one of ${FITS.join(", ")}, got ${quote(value)}`);
        transform.fit = value as Fit;
        break;
      case "quality": {
        const q = parseDecimalInteger(value);
        if (q === undefined || q < 1 || q > 100) throw badRequest(`quality must be an integer from 1 to 100 in decimal digits, got ${quote(value)}`);
        transform.quality = q;
        break;
      }
      case "format": {
        const f = value === "jpg" ? "jpeg" : value;
        if (f !== "auto" && !OUTPUT_FORMATS.includes(f as OutputFormat)) {
          throw badRequest(`format must be one of auto, ${OUTPUT_FORMATS.join(", ")}, got ${quote(value)}`);
        }
        transform.format = f as RequestedFormat;
        break;
      }
      case "dpr": {
        const d = parseDecimalNumber(value);
        if (d === undefined || d <= 0 || d > MAX_DPR) {
          throw badRequest(`dpr must be a decimal number above 0 and at most ${MAX_DPR} (like 2 or 1.5), got ${quote(value)}`);
        }
        dpr = d;
        break;
      }
      case "gravity":
        transform.gravity = parseGravity(value);
        break;
      case "metadata":
        if (!METADATA_MODES.includes(value as MetadataMode)) {
          throw badRequest(`metadata must be one of ${METADATA_MODES.join(", ")}, got ${quote(value)}`);
        }
        transform.metadata = value as MetadataMode;
        break;
      case "background":
        transform.background = parseColor(value);
        break;
      case "rotate": {
        const r = parseDecimalInteger(value);
        // 0 is Cloudflare's "no rotation": accepted, and the same transform as no rotate at all.
        if (r === undefined || !ROTATIONS.includes(r as Rotation)) throw badRequest(`rotate must be one of ${ROTATIONS.join(", ")} (degrees clockwise), got ${quote(value)}`);
        transform.rotate = r as Rotation;
        break;
      }
      case "flip":
        if (value === "none" || !FLIPS.includes(value as Flip)) throw badRequest(`flip must be one of h, v, hv, got ${quote(value)}`);
        transform.flip = value as Flip;
        break;
      case "anim":
        if (value !== "true" && value !== "false") throw badRequest(`anim must be true or false, got ${quote(value)}`);
        transform.anim = value === "true";
        break;
      default:
        if (isFilterName(name)) {
          transform.filters[name] = parseFilterOption(name, value);
          break;
        }
        throw badRequest(`unknown flexible variant option ${quote(rawName)}`);
    }
  }
  if (dpr !== 1) {
    if (transform.width) transform.width = Math.min(MAX_OUTPUT_SIDE, Math.round(transform.width * dpr));
    if (transform.height) transform.height = Math.min(MAX_OUTPUT_SIDE, Math.round(transform.height * dpr));
  }
  return transform;
}

function parseGravity(value: string): Gravity {
  if (value === AUTO_GRAVITY) return AUTO_GRAVITY;
  if (GRAVITIES.includes(value as (typeof GRAVITIES)[number])) return value as Gravity;
  const m = /^(0(?:\.\d+)?|1(?:\.0+)?)x(0(?:\.\d+)?|1(?:\.0+)?)$/.exec(value);
  if (m) return { x: Number(m[1]), y: Number(m[2]) };
  throw badRequest(`gravity must be one of ${AUTO_GRAVITY}, ${GRAVITIES.join(", ")} or XxY with fractions from 0 to 1, got ${quote(value)}`);
}

function parseColor(value: string): [number, number, number] {
  const hex = /^#?([0-9a-f]{6}|[0-9a-f]{3})$/i.exec(value)?.[1];
  if (hex) {
    const full = hex.length === 3 ? [...hex].map((c) => c + c).join("") : hex;
    return [0, 2, 4].map((i) => parseInt(full.slice(i, i + 2), 16)) as [number, number, number];
  }
  const rgb = /^rgb\((\d{1,3}),(\d{1,3}),(\d{1,3})\)$/.exec(value.replace(/\s+/g, ""));
  if (rgb && rgb.slice(1).every((c) => Number(c) <= 255)) return rgb.slice(1).map(Number) as [number, number, number];
  throw badRequest(`background must be a color like #ffffff or rgb(255,255,255), got ${quote(value)}`);
}

/**
 * A stable text form of a transform (format excluded): renditions are stored under its hash. Options added since
 * the first release appear only when they differ from their default, so the keys of renditions already stored
 * (all of which have the defaults) stay the same; each has its own name, so two different transforms never share a text.
 */
export function canonicalTransform(t: Transform): string {
  // The centre was the default under the name "auto" when the first renditions were stored: it keeps that text
  // so their keys stay valid, and the real gravity=auto (the saliency crop) takes "attention".
  const gravity = typeof t.gravity === "object" ? `${t.gravity.x}x${t.gravity.y}` : t.gravity === "center" ? "auto" : t.gravity === AUTO_GRAVITY ? "attention" : t.gravity;
  const added = [
    t.flip !== "none" ? `flip=${t.flip}` : "",
    t.rotate !== 0 ? `rot=${t.rotate}` : "",
    ...canonicalFilters(t.filters),
  ].filter(Boolean);
  return [
    `w=${t.width ?? ""}`,
    `h=${t.height ?? ""}`,
    `fit=${t.fit}`,
    `q=${t.quality}`,
    `g=${gravity}`,
    `m=${t.metadata}`,
    `bg=${t.background.join(".")}`,
    ...added,
    // Only when off, so the fingerprints of every transform from before `anim` existed stay what they were.
    ...(t.anim ? [] : ["anim=false"]),
  ].join(",");
}

export async function transformFingerprint(t: Transform): Promise<string> {
  return (await sha256Hex(canonicalTransform(t))).slice(0, 16);
}
