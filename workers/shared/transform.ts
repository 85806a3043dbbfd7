import { sha256Hex } from "./crypto.ts";
import { badRequest, quote } from "./errors.ts";
import { parseDecimalInteger, parseDecimalNumber } from "./numerals.ts";
import { NO_FILTERS, canonicalFilters, isFilterName, parseFilterOption, type Filters } from "./filter-options.ts";
import { parseColor as parseCssColor } from "./colors.ts";
import { canonicalDrawLayers, parseDrawLayers, presentDrawLayers, type DrawLayer, type DrawLayerOptions } from "./draw-options.ts";
import {
  checkZoom, finishBorder, finishBorderTrim, finishTrim, parseCompression, parseQuality, takeBorderOption, takeTrimOption,
  type Border, type BorderParts, type BorderTrim, type Compression, type PixelTrim, type TrimParts,
} from "./transform-options.ts";
import {
  AVIF_MAX_DIMENSION, FLIPS, METADATA_MODES, OUTPUT_FORMATS, ROTATIONS, type Flip, type MetadataMode, type OutputFormat, type Rotation,
} from "../../wasm/src/vocabulary.ts";

// The engine's vocabulary, defined once in wasm/src/vocabulary.ts; requests are validated against it here.
export { FLIPS, METADATA_MODES, OUTPUT_FORMATS, ROTATIONS, type Flip, type MetadataMode, type OutputFormat, type Rotation };

/** squeeze: stretched to exactly width × height, the aspect ratio not kept. */
export const FITS = ["scale-down", "contain", "cover", "crop", "pad", "squeeze"] as const;
/**
 * Named gravities we crop by: the side that is not cropped. Cloudflare's `face` is refused until it is built,
 * never taken as centre.
 */
export const GRAVITIES = ["center", "left", "right", "top", "bottom"] as const;
/** Cloudflare's `gravity=auto`: a saliency crop, placed by the engine on the decoded pixels (wasm/src/saliency.ts). */
export const AUTO_GRAVITY = "auto";

export type Fit = (typeof FITS)[number];
/** `svg`: an SVG image's sanitised original, as stored (other images are negotiated as for `auto`). */
export type RequestedFormat = OutputFormat | "auto" | "svg";
/** format=json: Cloudflare's JSON answer (the output's size and the original's) instead of an image. */
export type TransformFormat = RequestedFormat | "json";

/**
 * Where a crop keeps its focus: a named edge, `auto` (the most salient part, found by the engine), or a point given
 * as fractions of width and height that sits at the same fractions of the crop (Cloudflare's XxY).
 */
export type Gravity = (typeof GRAVITIES)[number] | typeof AUTO_GRAVITY | { x: number; y: number };

/** A fully defaulted description of one output, from a named variant or flexible URL options. */
export interface Transform {
  width?: number;
  height?: number;
  fit: Fit;
  quality: number;
  format: TransformFormat;
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
  /** Pixels cut off the oriented original before resize and rotation; none by default. */
  trim?: PixelTrim;
  /** trim=border: the sides of one colour cut off the oriented original, found in its pixels by the engine. */
  trimBorder?: BorderTrim;
  /** Drawn around the output, outside the resized image; none by default. */
  border?: Border;
  /** fast: the quickest encoder settings (encode.ts), and JPEG (PNG with alpha) for format=auto; default none. */
  compression?: Compression;
  /** Named variants only: stored images drawn over the output, in order (draw-options.ts); none by default. */
  draw?: DrawLayer[];
}

export const DEFAULT_QUALITY = 85;
/** AVIF is encoded up to this size on the longer side (as Cloudflare Images does); larger falls back to WebP. */
export const AVIF_MAX_SIDE = AVIF_MAX_DIMENSION;
/** The largest output side we render, whatever the options ask for (Cloudflare's limit too). */
export const MAX_OUTPUT_SIDE = 12_000;

/**
 * A named variant's stored options: Cloudflare's four fields, and (our extension) any other option of the
 * flexible set, stored as given and validated by the same parser (`extra`, presented beside the four).
 */
export interface VariantOptions {
  fit: Fit;
  width: number;
  height: number;
  metadata: MetadataMode;
  extra?: VariantExtraOptions;
}

/**
 * Options beyond Cloudflare's four, by their flexible-variant name; values as the JSON body gave them. `draw` alone
 * holds layers (draw-options.ts): parsed options from a body, pinned to their images' lives before they are stored.
 */
export type VariantExtraOptions = Record<string, string | number | boolean | DrawLayerOptions[]>;

/** A variant's options as the API shows them: the four fields and the extras beside them, as they were given. */
export type PresentedVariantOptions = Omit<VariantOptions, "extra"> & VariantExtraOptions;

export function presentVariantOptions(o: VariantOptions): PresentedVariantOptions {
  const draw = o.extra?.draw as DrawLayer[] | undefined;
  return { ...o.extra, ...(draw ? { draw: presentDrawLayers(draw) } : {}), fit: o.fit, width: o.width, height: o.height, metadata: o.metadata };
}

/** The four fields of Cloudflare's variant options: the rest are extras. */
const VARIANT_FIELDS = ["fit", "width", "height", "metadata"];

export function transformOfVariant(options: VariantOptions): Transform {
  const base = baseTransformOfVariant(options);
  const { draw, ...flexible } = options.extra ?? {};
  const extra = Object.entries(flexible);
  const transform = extra.length ? applyOptions(base, extra.map(([name, value]) => ({ name, rawName: name, value: String(value) }))) : base;
  if (draw) transform.draw = draw as DrawLayer[];
  return transform;
}

function baseTransformOfVariant(options: VariantOptions): Transform {
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
export function parseVariantOptions(raw: unknown, previous?: VariantOptions): Required<VariantOptions> {
  if (raw === undefined && previous) return { ...previous, extra: previous.extra ?? {} };
  if (!raw || typeof raw !== "object") throw badRequest("options must be an object with fit, width, height and metadata");
  const o = raw as Record<string, unknown>;
  const pick = <K extends keyof VariantOptions>(key: K): unknown => (o[key] === undefined ? previous?.[key] : o[key]);
  const fit = pick("fit");
  if (!FITS.includes(fit as Fit)) throw badRequest(`options.fit must be one of ${FITS.join(", ")}, got ${JSON.stringify(fit)}`);
  const metadata = pick("metadata") ?? "none";
  if (!METADATA_MODES.includes(metadata as MetadataMode)) {
    throw badRequest(`options.metadata must be one of ${METADATA_MODES.join(", ")}, got ${JSON.stringify(metadata)}`);
  }
  const parsed: Required<VariantOptions> = {
    fit: fit as Fit,
    width: dimension(pick("width"), "options.width", true),
    height: dimension(pick("height"), "options.height", true),
    metadata: metadata as MetadataMode,
    extra: parseVariantExtras(o, previous),
  };
  const transform = transformOfVariant(parsed); // validates the extras with the flexible options' parser
  // The layers are sized from the output, which trim=border only knows once the engine found the border.
  if (transform.draw && transform.trimBorder) throw badRequest("options.draw cannot be combined with trim=border: the output's size is only found in the pixels");
  return parsed;
}

/**
 * The extras of a variant body: every key beside the four, kept as given. A PATCH changes the extras it names (like
 * the four fields) and keeps the others; `null` removes one.
 */
function parseVariantExtras(o: Record<string, unknown>, previous?: VariantOptions): VariantExtraOptions {
  // A Map, so that a key like __proto__ is an option name like any other (and refused as unknown), never a prototype.
  const extra = new Map(Object.entries(previous?.extra ?? {}));
  for (const [key, value] of Object.entries(o)) {
    if (VARIANT_FIELDS.includes(key)) continue;
    if (value === null) {
      extra.delete(key);
      continue;
    }
    if (key === "draw") {
      extra.set(key, parseDrawLayers(value));
      continue;
    }
    if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
      throw badRequest(`options.${key} must be a string, number or boolean as in a flexible variant (${key}=...), got ${quote(value)}`);
    }
    if (key === "format" && value === "json") throw badRequest("options.format=json is for flexible variants: a named variant renders an image");
    extra.set(key, value);
  }
  return Object.fromEntries(extra);
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
  const options = rawSegment.split(",").filter(Boolean).map(decodeOption);
  return applyOptions(defaultTransform(), options.map(({ rawName, value }) => ({ rawName, name: Object.hasOwn(FLEXIBLE_ALIASES, rawName) ? FLEXIBLE_ALIASES[rawName] : rawName, value })));
}

function defaultTransform(): Transform {
  return {
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
}

/**
 * Applies options (names already un-aliased) to `transform`, each validated once: the one definition of every
 * option, shared by flexible variants and named variants' extras.
 */
function applyOptions(start: Transform, options: Array<{ rawName: string; name: string; value: string }>): Transform {
  const transform: Transform = { ...start };
  let dpr = 1;
  const seen = new Set<string>();
  const trim: TrimParts = {};
  const border: BorderParts = {};
  for (const { rawName, name, value } of options) {
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
      case "quality":
        transform.quality = parseQuality(value);
        break;
      case "format": {
        // Our JPEG is always baseline sequential (encode.ts), so baseline-jpeg is the same output as jpeg.
        const f = value === "jpg" || value === "baseline-jpeg" ? "jpeg" : value;
        if (f !== "auto" && f !== "json" && f !== "svg" && !OUTPUT_FORMATS.includes(f as OutputFormat)) {
          throw badRequest(`format must be one of auto, svg, ${OUTPUT_FORMATS.join(", ")}, baseline-jpeg, json, got ${quote(value)}`);
        }
        transform.format = f as TransformFormat;
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
      // --- options: zoom, compression, trim, border ---
      case "zoom":
      case "face-zoom":
        checkZoom(value);
        break;
      case "compression":
        transform.compression = parseCompression(value);
        break;
      default:
        if (isFilterName(name)) {
          transform.filters[name] = parseFilterOption(name, value);
          break;
        }
        if (takeTrimOption(trim, name, value, parseCssColor) || takeBorderOption(border, name, value, parseCssColor)) break;
        throw badRequest(`unknown flexible variant option ${quote(rawName)}`);
    }
  }
  const trimmed = finishTrim(trim, dpr);
  if (trimmed) transform.trim = trimmed;
  const borderTrim = finishBorderTrim(trim, dpr);
  if (borderTrim) {
    if (transform.format === "json") throw badRequest("format=json cannot answer for trim=border: the size it trims to is found in the pixels");
    transform.trimBorder = borderTrim;
  }
  const bordered = finishBorder(border, dpr);
  if (bordered) transform.border = bordered;
  if (dpr !== 1) {
    if (transform.width) transform.width = Math.min(MAX_OUTPUT_SIDE, Math.round(transform.width * dpr));
    if (transform.height) transform.height = Math.min(MAX_OUTPUT_SIDE, Math.round(transform.height * dpr));
  }
  return transform;
}

function parseGravity(value: string): Gravity {
  if (value === AUTO_GRAVITY) return AUTO_GRAVITY;
  if (value === "face") {
    throw badRequest(`gravity=face (face detection) is not supported; use one of ${AUTO_GRAVITY}, ${GRAVITIES.join(", ")} or XxY with fractions from 0 to 1`);
  }
  if (GRAVITIES.includes(value as (typeof GRAVITIES)[number])) return value as Gravity;
  const m = /^(0(?:\.\d+)?|1(?:\.0+)?)x(0(?:\.\d+)?|1(?:\.0+)?)$/.exec(value);
  if (m) return { x: Number(m[1]), y: Number(m[2]) };
  throw badRequest(`gravity must be one of ${AUTO_GRAVITY}, ${GRAVITIES.join(", ")} or XxY with fractions from 0 to 1, got ${quote(value)}`);
}

/** The background is opaque (it is what alpha is flattened onto). */
function parseColor(value: string): [number, number, number] {
  const [r, g, b, a] = parseCssColor(value, "background");
  if (a !== 255) throw badRequest(`background must be an opaque color like #ffffff or rgb(255,255,255), got ${quote(value)}`);
  return [r, g, b];
}

/**
 * A stable text form of a transform (format excluded): renditions are stored under its hash. Options added since
 * the first release appear only when they differ from their default, so the keys of renditions already stored
 * (all of which have the defaults) stay the same; each has its own name, so two different transforms never share a text.
 */
export function canonicalTransform(t: Transform): string {
  // The centre was the default under the name "auto" when the first renditions were stored: it keeps that text
  // so their keys stay valid, and the real gravity=auto (the saliency crop) takes "attention".
  // A point gravity positions the crop as Cloudflare does (the point at the same fractions of both) since the
  // options work; before, the crop was centred on the point, so the new placement takes a text of its own.
  const gravity = typeof t.gravity === "object" ? `at:${t.gravity.x}x${t.gravity.y}` : t.gravity === "center" ? "auto" : t.gravity === AUTO_GRAVITY ? "attention" : t.gravity;
  const added = [
    t.flip !== "none" ? `flip=${t.flip}` : "",
    t.rotate !== 0 ? `rot=${t.rotate}` : "",
    ...canonicalFilters(t.filters),
    // --- options: trim, border, compression ---
    t.trim ? `trim=${[t.trim.top, t.trim.right, t.trim.bottom, t.trim.left, t.trim.width ?? "", t.trim.height ?? ""].join(".")}` : "",
    t.trimBorder ? `tb=${t.trimBorder.color?.join(".") ?? "auto"}/${t.trimBorder.tolerance}/${t.trimBorder.keep}` : "",
    t.border ? `border=${t.border.color.join(".")}/${[t.border.top, t.border.right, t.border.bottom, t.border.left].join(".")}` : "",
    t.compression ? `cmp=${t.compression}` : "",
    canonicalDrawLayers(t.draw),
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
