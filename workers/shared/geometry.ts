import type { Rect } from "../../wasm/src/raster.ts";
import { storedRectToOriented } from "../../wasm/src/orient.ts";
import { orientedSize } from "../../wasm/src/pixels.ts";
import type { Orientation } from "../../wasm/src/raster.ts";
import { viewOrientation, viewSwapsAxes } from "../../wasm/src/steps/rotate-and-flip.ts";
import type { CropPlacement } from "../../wasm/src/targets.ts";
import { badRequest } from "./errors.ts";
import { AUTO_GRAVITY, MAX_OUTPUT_SIDE, type Gravity, type Transform } from "./transform.ts";
import type { PixelTrim } from "./transform-options.ts";

/**
 * The pixel plan for one output, in the axes the viewer sees after flip and rotate: which part of the image,
 * resized to what, on what canvas.
 */
export interface Geometry {
  width: number;
  height: number;
  crop?: Rect;
  /** gravity=auto: `crop` is the centred stand-in of that size; the engine places it on the decoded pixels. */
  cropPlacement?: CropPlacement;
  canvas?: { width: number; height: number };
  /** The output's size once every step ran: the canvas (or the content) plus the border. */
  output: { width: number; height: number };
}

/** The size of a transform's output for a stored original of this size and EXIF orientation. */
export function outputSizeOf(source: { width: number; height: number; orientation: Orientation }, t: Transform): { width: number; height: number } {
  return planGeometry(orientedSize(source.width, source.height, source.orientation), t).output;
}

/**
 * Resolves a transform's fit mode against the source's oriented size, following Cloudflare's definitions:
 * scale-down fits inside the box and never enlarges; contain fits inside and may enlarge; cover fills the box
 * and crops; crop is cover that never enlarges (scale-down for small images); pad is contain on a canvas of
 * exactly the box. A missing width or height leaves that side to the aspect ratio. `oriented` is the source's
 * size after EXIF orientation; width and height refer to the axes after `rotate` (Cloudflare's rule).
 */
export function planGeometry(oriented: { width: number; height: number }, t: Transform): Geometry {
  const g = planFit(oriented, t);
  const trimmed = t.trim && trimRect(oriented, t.trim);
  if (trimmed) {
    // Trim comes before resize and rotation: the fit was planned on the trimmed region, so its crop is
    // relative to that region; both are moved into the view axes of the whole image.
    const region = storedRectToOriented(trimmed, viewOrientation(t.rotate, t.flip), oriented.width, oriented.height);
    const crop = g.crop ?? { left: 0, top: 0, width: region.width, height: region.height };
    g.crop = { ...crop, left: crop.left + region.left, top: crop.top + region.top };
    if (g.cropPlacement) g.cropPlacement = { ...g.cropPlacement, within: region };
  }
  const box = g.canvas ?? g;
  const b = t.border;
  return { ...g, output: b ? { width: box.width + b.left + b.right, height: box.height + b.top + b.bottom } : { width: box.width, height: box.height } };
}

/** The part of the oriented image a trim keeps; a trim that would keep nothing is refused by name. */
function trimRect(oriented: { width: number; height: number }, trim: PixelTrim): Rect {
  const width = trim.width !== undefined ? Math.min(trim.width, oriented.width - trim.left) : oriented.width - trim.left - trim.right;
  const height = trim.height !== undefined ? Math.min(trim.height, oriented.height - trim.top) : oriented.height - trim.top - trim.bottom;
  if (width < 1 || height < 1) {
    throw badRequest(`trim ${trim.top};${trim.right};${trim.bottom};${trim.left}${trim.width ? ` (width ${trim.width})` : ""}${trim.height ? ` (height ${trim.height})` : ""} leaves no pixels of the ${oriented.width}×${oriented.height} image`);
  }
  return { left: trim.left, top: trim.top, width, height };
}

type Fitted = Omit<Geometry, "output">;

function planFit(whole: { width: number; height: number }, t: Transform): Fitted {
  const oriented = t.trim ? trimRect(whole, t.trim) : whole;
  const swap = viewSwapsAxes(t.rotate, t.flip);
  const sw = swap ? oriented.height : oriented.width;
  const sh = swap ? oriented.width : oriented.height;
  if (!t.width && !t.height) return clampToMax({ width: sw, height: sh });
  const boxW = t.width ?? Math.max(1, Math.round((sw * t.height!) / sh));
  const boxH = t.height ?? Math.max(1, Math.round((sh * t.width!) / sw));
  const containScale = Math.min(boxW / sw, boxH / sh);
  const coverScale = Math.max(boxW / sw, boxH / sh);

  switch (t.fit) {
    case "scale-down":
      return scaled(sw, sh, Math.min(1, containScale));
    case "contain":
      return scaled(sw, sh, containScale);
    case "squeeze":
      // Cloudflare: exactly the box, distorted when the aspect ratios differ (a missing side follows the aspect).
      return clampToMax({ width: boxW, height: boxH });
    case "pad": {
      const inner = scaled(sw, sh, containScale);
      return { ...inner, canvas: { width: boxW, height: boxH } };
    }
    case "cover":
      return covered(sw, sh, boxW, boxH, coverScale, t.gravity);
    case "crop":
      // Never enlarges: a box larger than the image on both sides leaves the image as it is;
      // larger on one side only crops the other side at the source's own scale.
      if (coverScale >= 1) {
        const w = Math.min(boxW, sw);
        const h = Math.min(boxH, sh);
        if (w === sw && h === sh) return { width: sw, height: sh };
        return { width: w, height: h, ...placedCrop(sw, sh, w, h, t.gravity) };
      }
      return covered(sw, sh, boxW, boxH, coverScale, t.gravity);
  }
}

function scaled(sw: number, sh: number, scale: number): Fitted {
  return clampToMax({ width: Math.max(1, Math.round(sw * scale)), height: Math.max(1, Math.round(sh * scale)) });
}

function covered(sw: number, sh: number, boxW: number, boxH: number, scale: number, gravity: Gravity): Fitted {
  // The source region that, scaled by `scale`, exactly fills the box.
  const cw = Math.min(sw, Math.max(1, Math.round(boxW / scale)));
  const ch = Math.min(sh, Math.max(1, Math.round(boxH / scale)));
  return { width: boxW, height: boxH, ...(cw === sw && ch === sh ? {} : placedCrop(sw, sh, cw, ch, gravity)) };
}

/** The crop for a gravity; gravity=auto leaves its place to the engine (the pixels are not known here). */
function placedCrop(sw: number, sh: number, cw: number, ch: number, gravity: Gravity): Pick<Geometry, "crop" | "cropPlacement"> {
  if (gravity === AUTO_GRAVITY) {
    return { crop: cropRect(sw, sh, cw, ch, "center"), cropPlacement: { strategy: "attention", within: { left: 0, top: 0, width: sw, height: sh } } };
  }
  return { crop: cropRect(sw, sh, cw, ch, gravity) };
}

function cropRect(sw: number, sh: number, cw: number, ch: number, gravity: Gravity): Rect {
  let fx = 0.5;
  let fy = 0.5;
  if (typeof gravity === "object") {
    fx = gravity.x;
    fy = gravity.y;
  } else if (gravity === "left") fx = 0;
  else if (gravity === "right") fx = 1;
  else if (gravity === "top") fy = 0;
  else if (gravity === "bottom") fy = 1;
  // Cloudflare's XxY: the point sits at the same fractions of the crop as of the image (so a side gravity keeps
  // that side, and the crop never leaves the image).
  const left = Math.round(fx * (sw - cw));
  const top = Math.round(fy * (sh - ch));
  return { left, top, width: cw, height: ch };
}

function clampToMax(g: Fitted): Fitted {
  const over = Math.max(g.width, g.height) / MAX_OUTPUT_SIDE;
  if (over <= 1) return g;
  return { width: Math.max(1, Math.floor(g.width / over)), height: Math.max(1, Math.floor(g.height / over)) };
}
