// The stored images named variants draw (workers/shared/draw-options.ts), on the management API's side: a variant's
// layers are pinned to their images' current uploads when it is defined, and an image a variant draws is not deleted.
import { badRequest, ApiError, ErrorCode } from "../shared/errors.ts";
import type { Db } from "../shared/db.ts";
import type { DrawLayer, DrawLayerOptions } from "../shared/draw-options.ts";
import { findImage } from "../shared/image-records.ts";
import { variants } from "../shared/schema.ts";
import type { VariantExtraOptions } from "../shared/transform.ts";

/**
 * The extras with every `draw` layer pinned to the life of the image it names, which must be a ready image (one
 * that is still uploading or failed has nothing to draw). Layers are pinned again on every definition, so a PATCH
 * draws what the ids hold now.
 */
export async function pinDrawLayers(db: Db, extra: VariantExtraOptions): Promise<VariantExtraOptions> {
  const layers = extra.draw as DrawLayerOptions[] | undefined;
  if (!layers) return extra;
  const pinned: DrawLayer[] = [];
  for (const [i, layer] of layers.entries()) {
    const image = await findImage(db, layer.image);
    if (!image) throw badRequest(`options.draw[${i}].image: there is no image ${JSON.stringify(layer.image)}`);
    if (image.status !== "ready") throw badRequest(`options.draw[${i}].image: image ${JSON.stringify(layer.image)} is ${image.status}; only a ready image can be drawn`);
    const { life: _previous, ...options } = layer as DrawLayerOptions & { life?: string };
    pinned.push({ ...options, life: image.life });
  }
  return { ...extra, draw: pinned as unknown as DrawLayerOptions[] };
}

/** Refuses (409, naming them) to delete an image that named variants draw: their renditions show its pixels. */
export async function refuseDeletingDrawnImage(db: Db, imageId: string): Promise<void> {
  // At most MAX_VARIANTS rows, each with its extras: read them all rather than index JSON.
  const rows = await db.select({ id: variants.id, extra: variants.extra }).from(variants);
  const drawing = rows.filter((r) => (r.extra.draw as DrawLayerOptions[] | undefined)?.some((l) => l.image === imageId)).map((r) => r.id);
  if (drawing.length) {
    throw new ApiError(409, ErrorCode.conflict, `image ${JSON.stringify(imageId)} is drawn by variant${drawing.length > 1 ? "s" : ""} ${drawing.map((v) => JSON.stringify(v)).join(", ")}: remove it from their options.draw first`);
  }
}
