/**
 * Drawing one image over another (a watermark, a badge): what the Images-binding API's `draw()` does. Both images
 * arrive already rendered by renderTargets (oriented, at their final size, as lossless PNG), so this module only
 * decodes such a still, places the overlay and blends it.
 */
import { CodecError } from "./errors.ts";
import { FORMATS, sniffFormat } from "./formats/index.ts";
import { decodeContext } from "./engine.ts";
import type { EngineModules } from "./modules.ts";
import type { Raster } from "./raster.ts";

// The blend itself lives low in the tree (draw-over.ts), where the engine's draw step uses it too.
export { drawOver, type Placement } from "./draw-over.ts";

/** Decodes a still image to a raster as stored (the callers hand in renderTargets outputs, which are oriented). */
export async function decodeStill(bytes: Uint8Array, modules: EngineModules, maxPixels: number): Promise<Raster> {
  const format = sniffFormat(bytes);
  if (!format) throw new CodecError("unsupported", "the image to draw is not an image we decode");
  const header = FORMATS[format].probe(bytes);
  if (header.width * header.height > maxPixels) throw new CodecError("limit", `the image to draw is ${header.width}×${header.height}, over the maxPixels limit`);
  const source = { format, width: header.width, height: header.height, orientation: header.orientation, hasAlpha: header.hasAlpha };
  const [decoder] = FORMATS[format].read(bytes, source, modules).decoders;
  const { raster } = await decoder.decode(1, decodeContext(modules, header.hasAlpha, maxPixels));
  return raster;
}
