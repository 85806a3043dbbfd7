// The eager set: the outputs every named variant gets when an image is processed, and the engine targets they
// become. The processor renders it; the upload paths plan it from the header (render-admission.ts).
import type { RenderTarget } from "../../wasm/src/targets.ts";
import { orientedSize } from "../../wasm/src/pixels.ts";
import { orientedRectToStored } from "../../wasm/src/orient.ts";
import { viewOrientation, viewSwapsAxes } from "../../wasm/src/steps/rotate-and-flip.ts";
import { ApiError } from "./errors.ts";
import { planGeometry } from "./geometry.ts";
import type { OutputRequest, RenderSource } from "./render.ts";
import { transformFingerprint, transformOfVariant, type OutputFormat, type Transform, type VariantOptions } from "./transform.ts";

/**
 * Formats produced eagerly for every named variant: WebP for browsers that take it, JPEG (PNG with alpha) for the
 * rest. AVIF is slow to encode, so it is rendered on first request and stored from then on.
 */
export function eagerFormats(hasAlpha: boolean): OutputFormat[] {
  return ["webp", hasAlpha ? "png" : "jpeg"];
}

/**
 * The eager outputs of named variants for one original, in the given formats (by default all eager ones). A
 * variant whose trim leaves nothing of this image is not rendered eagerly: its delivery answers the 400 naming it,
 * and the image is not failed for it.
 */
export async function eagerRequests(
  named: (VariantOptions & { id: string })[],
  source: Pick<RenderSource, "width" | "height" | "orientation" | "hasAlpha">,
  formats = eagerFormats(source.hasAlpha),
): Promise<OutputRequest[]> {
  const requests: OutputRequest[] = [];
  const oriented = orientedSize(source.width, source.height, source.orientation);
  for (const variant of named) {
    const transform = transformOfVariant(variant);
    if (!appliesTo(oriented, transform)) continue;
    const fingerprint = await transformFingerprint(transform);
    for (const format of formats) requests.push({ transform, format, fingerprint, variant: variant.id });
  }
  return requests;
}

function appliesTo(oriented: { width: number; height: number }, transform: Transform): boolean {
  try {
    planGeometry(oriented, transform);
    return true;
  } catch (e) {
    if (e instanceof ApiError && e.status === 400) return false;
    throw e;
  }
}

/** The engine's targets for `requests` of an original. */
export function renderTargetsOf(source: Pick<RenderSource, "width" | "height" | "orientation">, requests: OutputRequest[]): RenderTarget[] {
  const oriented = orientedSize(source.width, source.height, source.orientation);
  return requests.map(({ transform, format }) => targetOf(oriented, transform, format));
}

function targetOf(oriented: { width: number; height: number }, transform: Transform, format: OutputFormat): RenderTarget {
  {
    const g = planGeometry(oriented, transform);
    const background: [number, number, number, number] = [...transform.background, format === "jpeg" ? 255 : 0];
    // The geometry is in the axes after flip and rotate; the engine resizes before them, in the oriented source's axes.
    const view = viewOrientation(transform.rotate, transform.flip);
    const swap = viewSwapsAxes(transform.rotate, transform.flip);
    return {
      width: swap ? g.height : g.width,
      height: swap ? g.width : g.height,
      crop: g.crop && orientedRectToStored(g.crop, view, oriented.width, oriented.height),
      cropPlacement: g.cropPlacement && { ...g.cropPlacement, within: orientedRectToStored(g.cropPlacement.within, view, oriented.width, oriented.height) },
      flip: transform.flip,
      rotate: transform.rotate,
      canvas: g.canvas ? { ...g.canvas, background } : undefined,
      format,
      quality: transform.quality,
      metadata: transform.metadata,
      background: transform.background,
      animate: transform.anim,
      filters: transform.filters,
      border: transform.border,
      compression: transform.compression,
      // trim=border: planned here on the whole image (for the memory plan), again on the region the engine finds.
      trimBorder: transform.trimBorder && {
        ...transform.trimBorder,
        refit: (region) => targetOf(oriented, { ...transform, trimBorder: undefined, trim: { ...region, right: 0, bottom: 0 } }, format),
      },
    };
  }
}
