/** brightness, contrast, gamma and saturation, one step (colour-adjust.ts): after blur and sharpen, before padding. */
import { adjustColour, adjustsColour, colourAdjustBytes } from "../colour-adjust.ts";
import { NO_FILTERS } from "../vocabulary.ts";
import type { Step } from "./step.ts";

export const adjustColourStep: Step = {
  name: "adjust-colour",
  reusable: false,
  workBytes: (target, channels) => (adjustsColour(target.filters ?? NO_FILTERS) ? colourAdjustBytes(target.width * target.height, channels) : 0),
  run(image, target) {
    const filters = target.filters ?? NO_FILTERS;
    return adjustsColour(filters) ? adjustColour(image, filters) : image;
  },
};
