import { sha256Hex } from "./crypto.ts";
import { badRequest } from "./errors.ts";

export const FITS = ["scale-down", "contain", "cover", "crop", "pad"] as const;
export const METADATA_MODES = ["keep", "copyright", "none"] as const;
export const OUTPUT_FORMATS = ["avif", "webp", "jpeg", "png"] as const;
export const GRAVITIES = ["auto", "center", "left", "right", "top", "bottom"] as const;

export type Fit = (typeof FITS)[number];
export type MetadataMode = (typeof METADATA_MODES)[number];
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];
export type RequestedFormat = OutputFormat | "auto";

/** Where a crop keeps its focus: a named edge or a point given as fractions of width and height. */
export type Gravity = (typeof GRAVITIES)[number] | { x: number; y: number };

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
}

export const DEFAULT_QUALITY = 85;
/** AVIF is encoded up to this size on the longer side (as Cloudflare Images does); larger falls back to WebP. */
export const AVIF_MAX_SIDE = 1200;
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
    gravity: "auto",
    metadata: options.metadata,
    background: [255, 255, 255],
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
  if (value === undefined || value === null || value === "") {
    if (required) throw badRequest(`${name} is required`);
    return undefined;
  }
  const n = typeof value === "string" ? Number(value) : value;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > MAX_OUTPUT_SIDE) {
    throw badRequest(`${name} must be an integer from 1 to ${MAX_OUTPUT_SIDE}, got ${JSON.stringify(value)}`);
  }
  return n;
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
 * Unknown options and bad values are refused with a message that names them.
 */
export function parseFlexibleOptions(spec: string): Transform {
  const transform: Transform = {
    fit: "scale-down",
    quality: DEFAULT_QUALITY,
    format: "auto",
    gravity: "auto",
    metadata: "none",
    background: [255, 255, 255],
  };
  let dpr = 1;
  const seen = new Set<string>();
  for (const part of spec.split(",")) {
    if (!part) continue;
    const eq = part.indexOf("=");
    if (eq <= 0) throw badRequest(`flexible variant option ${JSON.stringify(part)} must be name=value`);
    const rawName = part.slice(0, eq).trim();
    const name = FLEXIBLE_ALIASES[rawName] ?? rawName;
    const value = decodeURIComponent(part.slice(eq + 1).trim());
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
        if (!FITS.includes(value as Fit)) throw badRequest(`fit must be one of ${FITS.join(", ")}, got ${JSON.stringify(value)}`);
        transform.fit = value as Fit;
        break;
      case "quality": {
        const q = Number(value);
        if (!Number.isInteger(q) || q < 1 || q > 100) throw badRequest(`quality must be an integer from 1 to 100, got ${JSON.stringify(value)}`);
        transform.quality = q;
        break;
      }
      case "format": {
        const f = value === "jpg" ? "jpeg" : value;
        if (f !== "auto" && !OUTPUT_FORMATS.includes(f as OutputFormat)) {
          throw badRequest(`format must be one of auto, ${OUTPUT_FORMATS.join(", ")}, got ${JSON.stringify(value)}`);
        }
        transform.format = f as RequestedFormat;
        break;
      }
      case "dpr": {
        const d = Number(value);
        if (!Number.isFinite(d) || d <= 0 || d > 10) throw badRequest(`dpr must be a number above 0 and at most 10, got ${JSON.stringify(value)}`);
        dpr = d;
        break;
      }
      case "gravity":
        transform.gravity = parseGravity(value);
        break;
      case "metadata":
        if (!METADATA_MODES.includes(value as MetadataMode)) {
          throw badRequest(`metadata must be one of ${METADATA_MODES.join(", ")}, got ${JSON.stringify(value)}`);
        }
        transform.metadata = value as MetadataMode;
        break;
      case "background":
        transform.background = parseColor(value);
        break;
      default:
        throw badRequest(`unknown flexible variant option ${JSON.stringify(rawName)}`);
    }
  }
  if (dpr !== 1) {
    if (transform.width) transform.width = Math.min(MAX_OUTPUT_SIDE, Math.round(transform.width * dpr));
    if (transform.height) transform.height = Math.min(MAX_OUTPUT_SIDE, Math.round(transform.height * dpr));
  }
  return transform;
}

function parseGravity(value: string): Gravity {
  if (GRAVITIES.includes(value as (typeof GRAVITIES)[number])) return value as Gravity;
  const m = /^(0(?:\.\d+)?|1(?:\.0+)?)x(0(?:\.\d+)?|1(?:\.0+)?)$/.exec(value);
  if (m) return { x: Number(m[1]), y: Number(m[2]) };
  throw badRequest(`gravity must be one of ${GRAVITIES.join(", ")} or XxY with fractions from 0 to 1, got ${JSON.stringify(value)}`);
}

function parseColor(value: string): [number, number, number] {
  const hex = /^#?([0-9a-f]{6}|[0-9a-f]{3})$/i.exec(value)?.[1];
  if (hex) {
    const full = hex.length === 3 ? [...hex].map((c) => c + c).join("") : hex;
    return [0, 2, 4].map((i) => parseInt(full.slice(i, i + 2), 16)) as [number, number, number];
  }
  const rgb = /^rgb\((\d{1,3}),(\d{1,3}),(\d{1,3})\)$/.exec(value.replace(/\s+/g, ""));
  if (rgb && rgb.slice(1).every((c) => Number(c) <= 255)) return rgb.slice(1).map(Number) as [number, number, number];
  throw badRequest(`background must be a color like #ffffff or rgb(255,255,255), got ${JSON.stringify(value)}`);
}

/** A stable text form of a transform (format excluded): renditions are stored under its hash. */
export function canonicalTransform(t: Transform): string {
  const gravity = typeof t.gravity === "string" ? t.gravity : `${t.gravity.x}x${t.gravity.y}`;
  return [
    `w=${t.width ?? ""}`,
    `h=${t.height ?? ""}`,
    `fit=${t.fit}`,
    `q=${t.quality}`,
    `g=${gravity}`,
    `m=${t.metadata}`,
    `bg=${t.background.join(".")}`,
  ].join(",");
}

export async function transformFingerprint(t: Transform): Promise<string> {
  return (await sha256Hex(canonicalTransform(t))).slice(0, 16);
}
