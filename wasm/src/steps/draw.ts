/**
 * draw: stored images drawn over the finished output (after the border, as Cloudflare draws over the final image),
 * before alpha is flattened for JPEG so a translucent layer over a transparent area is flattened with it. The
 * layers arrive pre-rendered at their final size (workers/processor/pipeline/draw-layers.ts).
 */
import { drawOver } from "../draw-over.ts";
import { outputPixels, type Step } from "./step.ts";

export const draw: Step = {
  name: "draw",
  reusable: false,
  // A copy of the output (the raster handed in may be content the cascade shares), and the layers held for the call.
  workBytes: (target, channels) =>
    target.draw?.length ? outputPixels(target) * channels + target.draw.reduce((n, l) => n + l.raster.data.byteLength, 0) : 0,
  run(image, { draw }) {
    if (!draw?.length) return image;
    const out = { ...image, data: image.data.slice() };
    for (const layer of draw) drawOver(out, layer.raster, layer.placement);
    return out;
  },
};
