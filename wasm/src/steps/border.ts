/** border: a frame of the target's colour around the output, outside the resized image (and fit=pad's canvas). */
import { borderAround } from "../canvas.ts";
import { outputPixels, type Step } from "./step.ts";

export const border: Step = {
  name: "border",
  reusable: false,
  workBytes: (target) => (target.border ? outputPixels(target) * 4 : 0),
  run(image, { border }) {
    if (!border) return image;
    return borderAround(image, border);
  },
};
