/**
 * The options of Cloudflare's set that take more than one word to parse: quality levels, trim, border,
 * compression and zoom. Each is validated here once, into the fully defaulted Transform (transform.ts), with an
 * error that names the option, its range and what arrived.
 */
import { badRequest, quote } from "./errors.ts";
import { parseDecimalInteger, parseDecimalNumber } from "./numerals.ts";

/**
 * Cloudflare's perceptual quality levels. Cloudflare does not publish the numbers behind them; these are ours,
 * spread below the default of 85 the way its docs describe the levels. A level is the same transform (and
 * fingerprint) as the number it maps to: `q=high` and `q=90` render the same bytes, so they share one rendition.
 */
export const QUALITY_LEVELS = { high: 90, "medium-high": 80, "medium-low": 65, low: 50 } as const;

/** A side-by-side trim in pixels of the oriented original, before resize and rotation (Cloudflare's order). */
export interface PixelTrim {
  top: number;
  right: number;
  bottom: number;
  left: number;
  /** Keep this many pixels from `left` (Cloudflare's trim.width); wins over `right`. */
  width?: number;
  /** Keep this many pixels from `top` (Cloudflare's trim.height); wins over `bottom`. */
  height?: number;
}

/** A border drawn around the output, outside the resized image (and outside fit=pad's canvas). */
export interface Border {
  /** RGBA. */
  color: [number, number, number, number];
  top: number;
  right: number;
  bottom: number;
  left: number;
}

/**
 * trim=border: the sides of one colour (given, or the top-left pixel's) are cut off, found in the pixels. Cloudflare's
 * tolerance runs from 0 ("doesn't need to match") to 255 ("must match exactly"): a pixel is border when no channel
 * differs from the colour by more than 255 − tolerance. `keep` pixels of the border stay on each side.
 */
export interface BorderTrim {
  color?: [number, number, number, number];
  tolerance: number;
  keep: number;
}

/** Allowed difference 10, sharp's default trim threshold. */
export const DEFAULT_TRIM_TOLERANCE = 245;

export type Compression = "fast";

/** The largest trim or border side we take: a border is added to an output of at most MAX_OUTPUT_SIDE. */
export const MAX_BORDER_SIDE = 1000;
const MAX_TRIM_SIDE = 100_000;

/** quality: 1–100 or one of Cloudflare's levels. */
export function parseQuality(value: string): number {
  if (Object.hasOwn(QUALITY_LEVELS, value)) return QUALITY_LEVELS[value as keyof typeof QUALITY_LEVELS];
  const q = parseDecimalInteger(value);
  if (q === undefined || q < 1 || q > 100) {
    throw badRequest(`quality must be an integer from 1 to 100 in decimal digits or one of ${Object.keys(QUALITY_LEVELS).join(", ")}, got ${quote(value)}`);
  }
  return q;
}

/**
 * zoom (Cloudflare's `face-zoom` too): how closely gravity=face crops toward the faces found, 0 to 1. We detect
 * no faces (gravity=face is refused), so only its default, 0, can apply; any other value is refused rather than
 * ignored. The range is checked first, so a value outside it is told so.
 */
export function checkZoom(value: string): void {
  const z = parseDecimalNumber(value);
  if (z === undefined || z > 1) throw badRequest(`zoom must be a decimal number from 0 to 1, got ${quote(value)}`);
  if (z !== 0) throw badRequest(`zoom=${value} crops toward faces with gravity=face, which is not supported; zoom has no effect without it (only zoom=0 is accepted)`);
}

export function parseCompression(value: string): Compression {
  if (value !== "fast") throw badRequest(`compression must be fast, got ${quote(value)}`);
  return value;
}

const TRIM_SIDES = ["top", "right", "bottom", "left"] as const;

/** The trim options of one request, gathered before they are combined (they come as up to seven options). */
export interface TrimParts {
  sides?: Partial<Record<(typeof TRIM_SIDES)[number] | "width" | "height", number>>;
  border?: { color?: [number, number, number, number]; tolerance?: number; keep?: number };
}

/** A count of pixels from 0 to `max`, in decimal digits. */
function pixels(value: string, name: string, max: number): number {
  const n = parseDecimalInteger(value);
  if (n === undefined || n > max) throw badRequest(`${name} must be an integer from 0 to ${max} pixels, got ${quote(value)}`);
  return n;
}

const trimPixels = (value: string, name: string) => pixels(value, name, MAX_TRIM_SIDE);

/**
 * Takes one of `trim` (`top;right;bottom;left` or `border`), `trim.top|right|bottom|left|width|height`, or a
 * `trim.border.*` option into `parts`; false when `name` is not a trim option.
 */
export function takeTrimOption(
  parts: TrimParts,
  name: string,
  value: string,
  parseColor: (value: string, name: string) => [number, number, number, number],
): boolean {
  const sides = (parts.sides ??= {});
  const set = (side: keyof NonNullable<TrimParts["sides"]>, n: number, from: string) => {
    if (sides[side] !== undefined) throw badRequest(`${from} sets the ${side} trim, which another trim option already set`);
    sides[side] = n;
  };
  if (name === "trim") {
    if (value === "border") {
      parts.border ??= {};
      return true;
    }
    const values = value.split(";");
    if (values.length !== 4) throw badRequest(`trim must be top;right;bottom;left in pixels (like 20;0;20;0) or border, got ${quote(value)}`);
    values.forEach((v, i) => set(TRIM_SIDES[i], trimPixels(v, `trim ${TRIM_SIDES[i]}`), "trim"));
    return true;
  }
  if (name.startsWith("trim.border.")) {
    const border = (parts.border ??= {});
    const field = name.slice("trim.border.".length);
    if (field === "color") border.color = parseColor(value, name);
    else if (field === "tolerance") {
      const t = parseDecimalInteger(value);
      if (t === undefined || t > 255) throw badRequest(`${name} must be an integer from 0 (any colour matches) to 255 (only the exact colour), got ${quote(value)}`);
      border.tolerance = t;
    } else if (field === "keep") border.keep = trimPixels(value, name);
    else return false;
    return true;
  }
  const side = name.slice("trim.".length);
  if (!name.startsWith("trim.") || !([...TRIM_SIDES, "width", "height"] as string[]).includes(side)) return false;
  const n = trimPixels(value, name);
  if ((side === "width" || side === "height") && n === 0) throw badRequest(`${name} must be at least 1 pixel, got ${quote(value)}`);
  set(side as keyof NonNullable<TrimParts["sides"]>, n, name);
  return true;
}

/** The border trim the parts describe (its `keep` scaled by `dpr`), or undefined; it takes no pixel trims beside it. */
export function finishBorderTrim(parts: TrimParts, dpr: number): BorderTrim | undefined {
  const b = parts.border;
  if (!b) return undefined;
  if (parts.sides && Object.keys(parts.sides).length) throw badRequest("trim=border finds the sides to cut itself: it takes no pixel trims (trim=top;right;bottom;left, trim.top, ...) beside it");
  const trim: BorderTrim = { tolerance: b.tolerance ?? DEFAULT_TRIM_TOLERANCE, keep: Math.round((b.keep ?? 0) * dpr) };
  if (b.color) trim.color = b.color;
  return trim;
}

/**
 * The trim the parts describe, scaled by `dpr` (Cloudflare: "trim takes into account the dpr parameter"), or
 * undefined when they trim nothing (or trim by border: finishBorderTrim).
 */
export function finishTrim(parts: TrimParts, dpr: number): PixelTrim | undefined {
  if (parts.border) return undefined;
  const s = parts.sides;
  if (!s || Object.values(s).every((v) => !v)) return undefined;
  const px = (n: number | undefined) => Math.round((n ?? 0) * dpr);
  const trim: PixelTrim = { top: px(s.top), right: px(s.right), bottom: px(s.bottom), left: px(s.left) };
  if (s.width !== undefined) trim.width = Math.max(1, px(s.width));
  if (s.height !== undefined) trim.height = Math.max(1, px(s.height));
  return trim;
}

const BORDER_SIDES = ["top", "right", "bottom", "left"] as const;

/** The border options of one request: `border=color;width` or `border.color`, `border.width`, `border.top` .... */
export interface BorderParts {
  color?: [number, number, number, number];
  width?: number;
  sides?: Partial<Record<(typeof BORDER_SIDES)[number], number>>;
}

const borderPixels = (value: string, name: string) => pixels(value, name, MAX_BORDER_SIDE);

/**
 * Takes one border option into `parts`; false when `name` is not one. Cloudflare has `border` only in Workers
 * (`{ color, width, top, right, bottom, left }`); in URLs and variants these are our spelling of the same fields.
 */
export function takeBorderOption(
  parts: BorderParts,
  name: string,
  value: string,
  parseColor: (value: string, name: string) => [number, number, number, number],
): boolean {
  if (name === "border") {
    const split = value.lastIndexOf(";");
    if (split <= 0) throw badRequest(`border must be color;width (like #000000;10), got ${quote(value)}`);
    if (parts.color || parts.width !== undefined) throw badRequest("border and border.color/border.width both set the border");
    parts.color = parseColor(value.slice(0, split), "border color");
    parts.width = borderPixels(value.slice(split + 1), "border width");
    return true;
  }
  if (name === "border.color") {
    if (parts.color) throw badRequest("border.color sets the border colour, which border already set");
    parts.color = parseColor(value, name);
    return true;
  }
  if (name === "border.width") {
    if (parts.width !== undefined) throw badRequest("border.width sets the border width, which border already set");
    parts.width = borderPixels(value, name);
    return true;
  }
  const side = name.slice("border.".length);
  if (!name.startsWith("border.") || !(BORDER_SIDES as readonly string[]).includes(side)) return false;
  (parts.sides ??= {})[side as (typeof BORDER_SIDES)[number]] = borderPixels(value, name);
  return true;
}

/** The border the parts describe, widths scaled by `dpr` (as Cloudflare scales them), or undefined when it has no width. */
export function finishBorder(parts: BorderParts, dpr: number): Border | undefined {
  if (!parts.color && parts.width === undefined && !parts.sides) return undefined;
  const px = (side: (typeof BORDER_SIDES)[number]) => Math.round((parts.sides?.[side] ?? parts.width ?? 0) * dpr);
  const border: Border = { color: parts.color ?? [0, 0, 0, 255], top: px("top"), right: px("right"), bottom: px("bottom"), left: px("left") };
  if (border.top + border.right + border.bottom + border.left === 0) {
    if (parts.color && parts.width === undefined && !parts.sides) throw badRequest("border.color needs a width: border.width or border.top, border.right, border.bottom, border.left");
    return undefined;
  }
  return border;
}
