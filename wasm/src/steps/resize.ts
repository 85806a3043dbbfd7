/** Resize (and orient): the oriented crop of the input raster to the target's content size. */
import { CodecError } from "../errors.ts";
import { kernels } from "../kernels.ts";
import { orient, orientedRectToStored } from "../orient.ts";
import { orientedSize, resize as resizeInTypeScript } from "../pixels.ts";
import type { EngineModules } from "../modules.ts";
import type { Orientation, Raster, Rect } from "../raster.ts";
import type { Step } from "./step.ts";

/** The oriented `crop` of a stored-orientation raster, resized to `w × h` oriented pixels. */
export async function resizeOriented(src: Raster, orientation: Orientation, w: number, h: number, crop: Rect, modules: EngineModules): Promise<Raster> {
  if (kernels.resize && modules.resize) {
    return kernels.resize.resizeOriented(modules.resize, src, orientation, w, h, { crop });
  }
  // Resize in stored orientation, then orient the (small) output.
  const storedCrop = orientedRectToStored(crop, orientation, src.width, src.height);
  const stored = orientedSize(w, h, orientation);
  return orient(resizeInTypeScript(src, stored.width, stored.height, storedCrop), orientation);
}

export const resize: Step = {
  name: "resize",
  reusable: true,
  // Planned by planRender, which knows whether the step reads the decoded source or the previous target's content.
  workBytes: () => 0,
  async run(src, target, { modules, orientation, crop }) {
    const { width: w, height: h } = target;
    try {
      return await resizeOriented(src, orientation, w, h, crop, modules);
    } catch (e) {
      throw e instanceof CodecError ? e : new CodecError("limit", `resize to ${w}×${h} failed: ${e instanceof Error ? e.message : e}`);
    }
  },
};
