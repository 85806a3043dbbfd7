// The images a named variant draws over its output (workers/shared/draw-options.ts), made ready for the engine's
// draw step: each layer's original is read from R2 under the life the variant pinned, rendered by the same engine to
// its size on this target's output (a lossless PNG, decoded back to a raster), and carried on the target.
import { decodeStill } from "../../../wasm/src/compose.ts";
import { renderTargets } from "../../../wasm/src/engine.ts";
import { engineModules } from "../../../wasm/src/modules.worker.ts";
import { orientedSize } from "../../../wasm/src/pixels.ts";
import { probeImage, type ImageHeader } from "../../../wasm/src/probe.ts";
import type { Raster } from "../../../wasm/src/raster.ts";
import { outputSize } from "../../../wasm/src/steps/step.ts";
import type { RenderTarget } from "../../../wasm/src/targets.ts";
import { placementOf, type DrawLayer } from "../../shared/draw-options.ts";
import { ApiError, ErrorCode } from "../../shared/errors.ts";
import type { OutputRequest } from "../../shared/render.ts";
import { imageStorageId, originalKey } from "../../shared/storage.ts";
import type { RenderSettings } from "./render.ts";

/** The originals the layers of some requests draw, by `image\nlife`; null where that life's original is gone. */
export type DrawOriginals = Map<string, { bytes: Uint8Array; header: ImageHeader } | null>;

const layerKey = (layer: Pick<DrawLayer, "image" | "life">) => `${layer.image}\n${layer.life}`;


/** Reads, once each, the originals the requests' layers draw. */
export async function loadDrawOriginals(bucket: R2Bucket, requests: OutputRequest[]): Promise<DrawOriginals> {
  const originals: DrawOriginals = new Map();
  const layers = requests.flatMap((r) => r.transform.draw ?? []);
  for (const layer of layers) {
    if (originals.has(layerKey(layer))) continue;
    const object = await bucket.get(originalKey({ storageId: await imageStorageId(layer.image), life: layer.life }));
    const bytes = object && new Uint8Array(await object.arrayBuffer());
    originals.set(layerKey(layer), bytes ? { bytes, header: probeImage(bytes) } : null);
  }
  return originals;
}

/** The first layer of `request` whose original is gone (deleted or uploaded again since the variant pinned it). */
export function missingLayer(request: OutputRequest, originals: DrawOriginals): DrawLayer | undefined {
  return request.transform.draw?.find((layer) => !originals.get(layerKey(layer)));
}

/**
 * The engine's layers for each target (undefined where its request draws none), rendered once per original and
 * size. A layer whose original is gone fails the render with a 409 naming the variant and the image.
 */
export async function renderDrawLayers(
  settings: RenderSettings,
  targets: RenderTarget[],
  requests: OutputRequest[],
  originals: DrawOriginals,
): Promise<(RenderTarget["draw"] | undefined)[]> {
  const rendered = new Map<string, Raster>();
  const all: (RenderTarget["draw"] | undefined)[] = [];
  // One after the other, so that the layers' renders never add their peaks.
  for (const [i, target] of targets.entries()) {
    const layers = requests[i].transform.draw;
    if (!layers?.length) {
      all.push(undefined);
      continue;
    }
    const out = outputSize(target);
    const drawn: NonNullable<RenderTarget["draw"]> = [];
    for (const layer of layers) {
      const original = originals.get(layerKey(layer));
      if (!original) {
        throw new ApiError(409, ErrorCode.conflict, `variant ${JSON.stringify(requests[i].variant)} draws image ${JSON.stringify(layer.image)}, whose upload is no longer stored: PATCH the variant's draw to use a stored image`);
      }
      const size = layerSize(layer, original.header, out);
      const key = `${layerKey(layer)}\n${size.width}x${size.height}`;
      let raster = rendered.get(key);
      if (!raster) {
        raster = await renderLayer(settings, original, size);
        rendered.set(key, raster);
      }
      drawn.push({ raster, placement: placementOf(layer) });
    }
    all.push(drawn);
  }
  return all;
}

/**
 * The layer's size on an output: its fraction of the output's width and/or height (both: fitted inside that box),
 * the image's aspect ratio kept; neither: the image's own size. Never larger than the output on either side (a
 * tall image at width=1 would be mostly outside it): so a layer's raster is at most the output's size, and its
 * render cannot fail a budget the output itself met.
 */
export function layerSize(layer: Pick<DrawLayer, "width" | "height">, header: Pick<ImageHeader, "width" | "height" | "orientation">, out: { width: number; height: number }) {
  const own = orientedSize(header.width, header.height, header.orientation);
  const scales = [layer.width && (layer.width * out.width) / own.width, layer.height && (layer.height * out.height) / own.height].filter((s): s is number => !!s);
  const scale = Math.min(scales.length ? Math.min(...scales) : 1, out.width / own.width, out.height / own.height);
  const side = (n: number) => Math.max(1, Math.round(n * scale));
  return { width: side(own.width), height: side(own.height) };
}

async function renderLayer(settings: RenderSettings, original: { bytes: Uint8Array; header: ImageHeader }, size: { width: number; height: number }): Promise<Raster> {
  const { format, width, height, orientation, hasAlpha } = original.header;
  const [png] = await renderTargets(
    original.bytes,
    { format, width, height, orientation, hasAlpha },
    [{ ...size, format: "png", quality: 100, metadata: "none" }],
    { modules: engineModules, memoryBudgetBytes: settings.memoryBudgetBytes, maxPixels: settings.limits.maxPixels },
  );
  return decodeStill(png.bytes, engineModules, settings.limits.maxPixels);
}
