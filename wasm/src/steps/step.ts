/**
 * One step of a target's pipeline (imgproxy's processing/ is the model): every step has this shape, runs in the
 * order of the list in index.ts, and returns its input at once when the target asks nothing of it.
 */
import type { EngineModules } from "../modules.ts";
import type { Orientation, Raster, Rect } from "../raster.ts";
import type { RenderTarget } from "../targets.ts";
import type { SrgbConversion } from "../icc/to-srgb.ts";

export interface StepContext {
  modules: EngineModules;
  /** How to read the raster handed to the first step: its EXIF orientation, and the oriented rect of it the target shows. */
  orientation: Orientation;
  crop: Rect;
  /**
   * The source's conversion to sRGB (icc/), when the raster handed in is in the source's colour space and
   * `appliesTo` the target; `source` is the decoded raster, which must not be converted in place.
   */
  colour?: { conversion: SrgbConversion; appliesTo(target: RenderTarget): boolean; source?: Raster };
}

export interface Step {
  readonly name: string;
  /**
   * Whether the step's result depends only on the target's region and size. The cascade keeps the raster after
   * the last such step and hands it to other targets (the same region in another format, or a smaller target
   * inside it); a step that is not `reusable` (it changes pixels or layout for this target alone: rotate, blur,
   * padding, flattening) runs for each target on its own copy, so its effect never reaches another target.
   * Reusable steps come first in the list.
   */
  readonly reusable: boolean;
  /** Bytes the step allocates for `target` (its output, scratch), given the channels of the resized content; 0 when it has nothing to do. */
  workBytes(target: RenderTarget, channels: 3 | 4): number;
  run(image: Raster, target: RenderTarget, context: StepContext): Raster | Promise<Raster>;
}

/** The output size of a target once every step ran: the content, or fit=pad's canvas, plus the border. */
export function outputSize(target: RenderTarget): { width: number; height: number } {
  const box = target.canvas ?? target;
  const b = target.border;
  return b ? { width: box.width + b.left + b.right, height: box.height + b.top + b.bottom } : { width: box.width, height: box.height };
}

/** Pixels of the output once every step ran. */
export function outputPixels(target: RenderTarget): number {
  const { width, height } = outputSize(target);
  return width * height;
}
