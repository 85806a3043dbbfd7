/** The engine's public vocabulary: what to render from which source, and what comes back. */
import type { Orientation, Raster, Rect } from "./raster.ts";
import type { ImageFormat } from "./formats/index.ts";
import type { Filters, Flip, MetadataMode, OutputFormat, Rotation } from "./vocabulary.ts";
import type { Placement } from "./draw-over.ts";

export type { MetadataMode, OutputFormat } from "./vocabulary.ts";

/**
 * A crop whose size is decided and whose place is not: `attention` puts it on the most salient part of `within`
 * (saliency.ts), the oriented full-resolution region it may take pixels from (the whole picture, or what a trim keeps).
 */
export interface CropPlacement {
  strategy: "attention";
  within: Rect;
}

export interface RenderTarget {
  /** Size of the resized image content, in oriented pixels (before `flip` and `rotate`). */
  width: number;
  height: number;
  /** Region of the ORIENTED source to resize (fit=cover/crop); default the whole image. */
  crop?: Rect;
  /** gravity=auto: the engine places `crop` on the decoded pixels (its left/top, the centred crop, are ignored). */
  cropPlacement?: CropPlacement;
  /** Applied to the resized content, flip first (default none, 0). */
  flip?: Flip;
  rotate?: Rotation;
  /** fit=pad: content (after flip and rotate) centred on this canvas. */
  canvas?: { width: number; height: number; background: [number, number, number, number] };
  format: OutputFormat;
  /** 1..100. */
  quality: number;
  /** keep: EXIF carried into JPEG/WebP (orientation reset to 1); copyright: only Copyright/Artist; none: stripped. */
  metadata: MetadataMode;
  /** Background for flattening alpha into JPEG; default white. */
  background?: [number, number, number];
  /** Drawn around the output (after fit=pad's canvas), widths in output pixels; RGBA colour. */
  border?: { top: number; right: number; bottom: number; left: number; color: [number, number, number, number] };
  /**
   * trim=border: the engine finds the region inside the border of one colour (trim-border.ts) in the decoded
   * source, then `refit` plans the target again on that region (oriented full-resolution pixels). Such a target is
   * rendered from a full-size decode, and never shares a raster with another (plan.ts).
   */
  trimBorder?: { color?: [number, number, number, number]; tolerance: number; keep: number; refit(region: Rect): RenderTarget };
  /** fast: the quickest encoder settings (encode.ts), for bigger files. */
  compression?: "fast";
  /**
   * Keep the animation of an animated source, frame by frame, where the format carries one (WebP); else (and by
   * default) the first frame is rendered.
   */
  animate?: boolean;
  /** blur, sharpen and the colour adjustments, on the content after flip and rotate; default none (NO_FILTERS). */
  filters?: Filters;
  /**
   * Images drawn over the output once every other step ran (before JPEG's flattening), in order: rasters already
   * rendered at their final size by the caller, placed in output pixels. Such a target renders the first frame of
   * an animation.
   */
  draw?: { raster: Raster; placement: Placement }[];
}

export interface RenderedOutput {
  bytes: Uint8Array;
  width: number;
  height: number;
  format: OutputFormat;
  contentType: string;
}

export interface SourceInfo {
  format: ImageFormat;
  /** As stored (before orientation). */
  width: number;
  height: number;
  orientation: Orientation;
  hasAlpha: boolean;
}

export interface RenderOptions {
  modules: import("./modules.ts").EngineModules;
  /** Peak memory the call may use; default 96 MiB (of the isolate's 128 MB). */
  memoryBudgetBytes?: number;
  /** Largest source (stored width × height) the call accepts. */
  maxPixels: number;
  /** Limits on an animation kept (animation/index.ts); default Cloudflare's: 50 MP of frames in all, 1000 frames. */
  animationLimits?: import("./animation/index.ts").AnimationLimits;
  /**
   * Asks for the image's placeholder (placeholder.ts), made from the smallest raster of the whole picture the call
   * produces anyway (the decoded source when every target is a crop), and handed here before the call returns.
   * Not called when no target is a still (an animation's placeholder comes from its still targets' first frame).
   */
  placeholder?: (placeholder: import("./placeholder.ts").Placeholder) => void;
}
