/**
 * Conversion to sRGB of a source with an embedded profile (icc/). It runs right after the resize, on the resized
 * content, rather than on the decoded source: its cost is per pixel, and the content is what the targets need
 * (a 12 MP photo decoded at 1/2 for a 1200 px target converts 0.9 MP, not 3 MP); it writes in place, so it
 * allocates nothing past its tables (planned by planRender from the conversion's `tableBytes`). The cascade
 * links only targets treated alike (plan.ts), and a raster taken from another target has been converted already:
 * the engine then gives no conversion in the context.
 */
import type { Step } from "./step.ts";

export const colourToSrgb: Step = {
  name: "colour-to-srgb",
  reusable: true,
  workBytes: () => 0,
  run(image, target, { colour }) {
    if (!colour || !colour.appliesTo(target)) return image;
    // Defensive: a resize with nothing to do may hand back its input, the decoded source other targets still read.
    const owned = image.data === colour.source?.data ? { ...image, data: image.data.slice() } : image;
    colour.conversion.convertInPlace(owned);
    return owned;
  },
};
