/** "Over" compositing of one raster onto another at a placement: the Images binding's draw() and the engine's draw step. */
import { CodecError } from "./errors.ts";
import type { Raster } from "./raster.ts";

/** Where an overlay goes: offsets in pixels from the base image's edges (Cloudflare's draw options). */
export interface Placement {
  top?: number;
  left?: number;
  bottom?: number;
  right?: number;
  /** 0–1, multiplied into the overlay's own alpha; default 1. */
  opacity?: number;
  /** Tile the overlay across the whole base (true), along one axis ("x", "y"), or draw it once (false). */
  repeat?: boolean | "x" | "y";
}

/**
 * Blends `overlay` over `base` ("over" compositing, straight alpha) at `placement`, in place when the base can
 * hold the result (an RGBA base, or an RGB one under an opaque overlay); an RGB base under a translucent overlay
 * stays RGB (the result of "over" on an opaque backdrop is opaque).
 */
export function drawOver(base: Raster, overlay: Raster, placement: Placement): Raster {
  const opacity = placement.opacity ?? 1;
  if (!(opacity >= 0 && opacity <= 1)) throw new CodecError("limit", `opacity must be from 0 to 1, got ${opacity}`);
  const origins = (axis: "x" | "y"): number[] => {
    const [size, extent] = axis === "x" ? [base.width, overlay.width] : [base.height, overlay.height];
    const [near, far] = axis === "x" ? [placement.left, placement.right] : [placement.top, placement.bottom];
    // Without an offset on this axis the overlay is centred on it, as Cloudflare's binding does.
    const at = near !== undefined ? near : far !== undefined ? size - extent - far : Math.round((size - extent) / 2);
    const tiled = placement.repeat === true || placement.repeat === axis;
    if (!tiled) return [at];
    const first = at - Math.ceil(at / extent) * extent;
    const all: number[] = [];
    for (let o = first; o < size; o += extent) all.push(o);
    return all;
  };
  const xs = origins("x");
  const ys = origins("y");
  for (const oy of ys) for (const ox of xs) blendAt(base, overlay, ox, oy, opacity);
  return base;
}

function blendAt(base: Raster, overlay: Raster, ox: number, oy: number, opacity: number): void {
  const x0 = Math.max(0, ox), y0 = Math.max(0, oy);
  const x1 = Math.min(base.width, ox + overlay.width), y1 = Math.min(base.height, oy + overlay.height);
  if (x0 >= x1 || y0 >= y1) return;
  const bc = base.channels, oc = overlay.channels;
  const b = base.data, o = overlay.data;
  for (let y = y0; y < y1; y++) {
    let bi = (y * base.width + x0) * bc;
    let oi = ((y - oy) * overlay.width + (x0 - ox)) * oc;
    for (let x = x0; x < x1; x++, bi += bc, oi += oc) {
      const a = (oc === 4 ? o[oi + 3] / 255 : 1) * opacity;
      if (a === 0) continue;
      if (bc === 3) {
        for (let c = 0; c < 3; c++) b[bi + c] = Math.round(o[oi + c] * a + b[bi + c] * (1 - a));
        continue;
      }
      const ba = b[bi + 3] / 255;
      const outA = a + ba * (1 - a);
      for (let c = 0; c < 3; c++) b[bi + c] = outA === 0 ? 0 : Math.round((o[oi + c] * a + b[bi + c] * ba * (1 - a)) / outA);
      b[bi + 3] = Math.round(outA * 255);
    }
  }
}
