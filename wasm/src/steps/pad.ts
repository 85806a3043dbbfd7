/** fit=pad: the content centred on the target's canvas. */
import { padTo } from "../canvas.ts";
import type { Step } from "./step.ts";

export const pad: Step = {
  name: "pad",
  reusable: false,
  workBytes: (target) => (target.canvas ? target.canvas.width * target.canvas.height * 4 : 0),
  run(image, { canvas }) {
    if (!canvas) return image;
    return padTo(image, canvas.width, canvas.height, canvas.background);
  },
};
