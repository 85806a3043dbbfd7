// A named variant's `draw` option (our extension, as the Images binding's draw()): other stored images drawn over
// the output, a watermark or a badge. Validated here once, at the edge, into fully defaulted layers.
//
// Invalidation: each layer pins the life of the image it draws (the upload it was defined against, resolved by the
// variants route), and the pinned life is part of the transform's fingerprint. The render reads that life's
// original, never "whatever the id holds now": so renditions stored under a fingerprint always show the watermark
// the fingerprint names, and a stored rendition can never silently keep an old watermark while new ones show a new
// one. While a variant draws an image, that image cannot be deleted (409 naming the variant), so the pinned life
// stays the current one; to change the watermark, upload it under another id and PATCH the variant's `draw`
// (which pins again, so every image renders anew under a new fingerprint, as for any changed definition).
import { badRequest, quote } from "./errors.ts";

/** At most this many layers per variant: each costs a read and a render of another original. */
export const MAX_DRAW_LAYERS = 4;

/**
 * Where a layer goes when no offsets are given: centred, or against one side (centred along it). The same words as
 * a crop's GRAVITIES (transform.ts) but not the same vocabulary: these place a layer, and may grow corners.
 */
export const DRAW_GRAVITIES = ["center", "top", "bottom", "left", "right"] as const;
export type DrawGravity = (typeof DRAW_GRAVITIES)[number];

const SIDES = ["top", "left", "bottom", "right"] as const;

/** One layer as the variant definition gives it, defaulted. */
export interface DrawLayerOptions {
  /** The stored image drawn. */
  image: string;
  /** Size as a fraction (0–1] of the output's width and/or height; both: fitted inside that box. Neither: the image's own size. Always shrunk to fit inside the output. */
  width?: number;
  height?: number;
  /** Offsets in output pixels from the output's edges; at most one per axis. */
  top?: number;
  left?: number;
  bottom?: number;
  right?: number;
  /** Used when no offset is given on an axis (then that axis is centred unless the gravity names one of its sides). */
  gravity: DrawGravity;
  /** 0–1, multiplied into the image's own alpha. */
  opacity: number;
  repeat: boolean | "x" | "y";
}

/** A layer as stored with the variant: the options and the life of the image they were defined against. */
export interface DrawLayer extends DrawLayerOptions {
  life: string;
}

const LAYER_FIELDS = new Set(["image", "width", "height", "gravity", "opacity", "repeat", ...SIDES]);

/** Validates `options.draw` of a variant body: an array of 1 to MAX_DRAW_LAYERS layers. */
export function parseDrawLayers(raw: unknown): DrawLayerOptions[] {
  if (!Array.isArray(raw) || raw.length < 1 || raw.length > MAX_DRAW_LAYERS) {
    throw badRequest(`options.draw must be an array of 1 to ${MAX_DRAW_LAYERS} layers like {"image":"logo","width":0.2,"bottom":8,"right":8}, got ${quote(raw)}`);
  }
  return raw.map((layer, i) => parseLayer(layer, `options.draw[${i}]`));
}

function parseLayer(raw: unknown, at: string): DrawLayerOptions {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw badRequest(`${at} must be an object with an image id, got ${quote(raw)}`);
  const o = raw as Record<string, unknown>;
  for (const key of Object.keys(o)) if (!LAYER_FIELDS.has(key)) throw badRequest(`${at}.${key} is not a draw option (${[...LAYER_FIELDS].join(", ")})`);
  if (typeof o.image !== "string" || o.image.length === 0 || o.image.length > 1024) throw badRequest(`${at}.image must be the id of a stored image, got ${quote(o.image)}`);
  const layer: DrawLayerOptions = { image: o.image, gravity: "center", opacity: 1, repeat: false };
  for (const side of ["width", "height"] as const) {
    if (o[side] === undefined) continue;
    const n = o[side];
    if (typeof n !== "number" || !(n > 0 && n <= 1)) throw badRequest(`${at}.${side} must be a fraction of the output's ${side} above 0 and at most 1, got ${quote(n)}`);
    layer[side] = n;
  }
  for (const side of SIDES) {
    if (o[side] === undefined) continue;
    const n = o[side];
    if (typeof n !== "number" || !Number.isInteger(n) || n < -12_000 || n > 12_000) {
      throw badRequest(`${at}.${side} must be an offset in pixels, an integer from -12000 to 12000, got ${quote(n)}`);
    }
    layer[side] = n;
  }
  if (layer.top !== undefined && layer.bottom !== undefined) throw badRequest(`${at} gives both top and bottom: give one offset per axis`);
  if (layer.left !== undefined && layer.right !== undefined) throw badRequest(`${at} gives both left and right: give one offset per axis`);
  if (o.gravity !== undefined) {
    if (!DRAW_GRAVITIES.includes(o.gravity as DrawGravity)) throw badRequest(`${at}.gravity must be one of ${DRAW_GRAVITIES.join(", ")}, got ${quote(o.gravity)}`);
    if (SIDES.some((s) => layer[s] !== undefined)) throw badRequest(`${at} gives both gravity and offsets: place a layer by one or the other`);
    layer.gravity = o.gravity as DrawGravity;
  }
  if (o.opacity !== undefined) {
    if (typeof o.opacity !== "number" || !(o.opacity >= 0 && o.opacity <= 1)) throw badRequest(`${at}.opacity must be a number from 0 to 1, got ${quote(o.opacity)}`);
    layer.opacity = o.opacity;
  }
  if (o.repeat !== undefined) {
    if (o.repeat !== true && o.repeat !== false && o.repeat !== "x" && o.repeat !== "y") throw badRequest(`${at}.repeat must be true, false, "x" or "y", got ${quote(o.repeat)}`);
    layer.repeat = o.repeat;
  }
  return layer;
}

/** The layers as the API shows them: as given, without the pinned life (an internal of the stored definition). */
export function presentDrawLayers(layers: DrawLayer[]): DrawLayerOptions[] {
  return layers.map(({ life: _life, ...options }) => options);
}

/** The fingerprint's words for the layers: every option and the pinned life, so another upload is another key. */
export function canonicalDrawLayers(layers: DrawLayer[] | undefined): string {
  if (!layers?.length) return "";
  // JSON: an image id may hold any character, and decimals their dots, so no separator of ours could be unambiguous.
  const fields = layers.map((l) => [l.image, l.life, l.width ?? null, l.height ?? null, ...SIDES.map((s) => l[s] ?? null), l.gravity, l.opacity, l.repeat]);
  return `draw=${JSON.stringify(fields)}`;
}

/** Offsets for the engine's drawOver: the layer's own, or the side its gravity names (0 from it). */
export function placementOf(layer: DrawLayerOptions): { top?: number; left?: number; bottom?: number; right?: number; opacity: number; repeat: boolean | "x" | "y" } {
  const { top, left, bottom, right, opacity, repeat } = layer;
  const offsets = layer.gravity === "center" ? { top, left, bottom, right } : { [layer.gravity]: 0 };
  return { ...offsets, opacity, repeat };
}
