/** Alpha composited over the background for formats without it (JPEG). */
import { flattenAlpha } from "../canvas.ts";
import { outputPixels, type Step } from "./step.ts";

export const flatten: Step = {
  name: "flatten",
  reusable: false,
  workBytes: (target, channels) => (target.format === "jpeg" && channels === 4 ? outputPixels(target) * 3 : 0),
  run(image, target) {
    if (target.format !== "jpeg") return image;
    return flattenAlpha(image, target.background ?? [255, 255, 255]);
  },
};
