// Resize, crop and orient rasters with the `resize` kernel (wasm/assembly/resize.ts). Each call instantiates a
// fresh instance from the compiled module and drops it afterwards: the kernel's memory only ever grows, so a
// per-call instance is the only way not to keep the high-water mark of the largest image ever resized.
import { CodecError } from "./errors.ts";
import type { Orientation, Raster, Rect } from "./raster.ts";
import { orient, orientedRectToStored, swapsAxes } from "./orient.ts";

export { orient } from "./orient.ts";
export { padTo, flattenAlpha } from "./canvas.ts";

export interface ResizeOptions {
  /** Source rectangle to resize (stored coordinates for `resize`, oriented ones for `resizeOriented`). */
  crop?: Rect;
}

interface ResizeExports {
  memory: WebAssembly.Memory;
  plan(channels: number, cropW: number, cropH: number, dstW: number, dstH: number): number;
  outputRow(j: number): void;
}

/** Hard ceiling for one kernel instance; wasm32 memory cannot address more, and Workers have far less. */
const MAX_INSTANCE_BYTES = 2 ** 31;
const PAGE = 65536;
/** The module's static data and stack sit below the heap; one page covers it with room to spare. */
const STATIC_BYTES = PAGE;

/** Resizes `src` (or `options.crop` of it) to exactly `width`×`height` with box pre-shrink + Lanczos3. */
export function resize(
  module: WebAssembly.Module, src: Raster, width: number, height: number, options: ResizeOptions = {},
): Raster {
  checkRaster(src, "resize");
  checkSize(width, height, "resize");
  const crop = options.crop ?? { left: 0, top: 0, width: src.width, height: src.height };
  checkCrop(crop, src, "resize");
  if (crop.width === width && crop.height === height) return extract(src, crop);
  const estimate = estimateCropBytes(src.channels, crop.width, crop.height, width, height);
  if (estimate > MAX_INSTANCE_BYTES) {
    throw new CodecError("limit", `resize: ${src.width}x${src.height} → ${width}x${height} needs ~${estimate} bytes, over the ${MAX_INSTANCE_BYTES} byte kernel limit`);
  }

  const ch = src.channels;
  const stride = src.width * ch;
  const bandRow = crop.width * ch;
  let memory: WebAssembly.Memory | undefined;
  // The kernel pulls the source rows it needs, cropped to the window, into its band buffer: the source is
  // copied exactly once, a band at a time, and never held whole in the instance (fresh wasm pages cost a page
  // fault each on first touch, which made a whole-image copy slower than the resize itself).
  const fetchRows = (first: number, count: number, dst: number) => {
    const view = new Uint8Array(memory!.buffer, dst, count * bandRow);
    for (let r = 0; r < count; r++) {
      const from = (crop.top + first + r) * stride + crop.left * ch;
      view.set(src.data.subarray(from, from + bandRow), r * bandRow);
    }
  };
  const kernel = instantiate(module, fetchRows);
  memory = kernel.memory;
  const outPtr = callKernel(() => kernel.plan(ch, crop.width, crop.height, width, height));
  callKernel(() => {
    for (let j = 0; j < height; j++) kernel.outputRow(j);
  });
  const data = new Uint8Array(kernel.memory.buffer, outPtr, width * height * ch).slice();
  return { data, width, height, channels: src.channels };
}

/**
 * Resizes a stored raster that carries EXIF `orientation`, with `width`×`height` and `options.crop` in
 * oriented coordinates (what the viewer sees). Resizes in stored orientation, then rotates the small output.
 */
export function resizeOriented(
  module: WebAssembly.Module, src: Raster, orientation: Orientation, width: number, height: number,
  options: ResizeOptions = {},
): Raster {
  if (!Number.isInteger(orientation) || orientation < 1 || orientation > 8) {
    throw new CodecError("corrupt", `resizeOriented: orientation must be an integer 1..8, got ${orientation}`);
  }
  checkRaster(src, "resizeOriented");
  checkSize(width, height, "resizeOriented");
  const swap = swapsAxes(orientation);
  let crop: Rect | undefined;
  if (options.crop) {
    const orientedImage = { width: swap ? src.height : src.width, height: swap ? src.width : src.height };
    checkCrop(options.crop, orientedImage, "resizeOriented");
    crop = orientedRectToStored(options.crop, orientation, src.width, src.height);
  }
  const stored = resize(module, src, swap ? height : width, swap ? width : height, { crop });
  return orient(stored, orientation);
}

/**
 * Bytes one `resize` call needs at its peak for a whole-image resize: the kernel instance's memory (one band
 * of source rows, one filtered row, the filter ring and weights, the output) plus the output copied back into
 * JS. The caller's own source raster is not included.
 */
export function estimateResizeBytes(srcW: number, srcH: number, channels: 3 | 4, dstW: number, dstH: number): number {
  return estimateCropBytes(channels, srcW, srcH, dstW, dstH);
}

/** Mirrors the kernel's allocations in `plan` (wasm/assembly/resize.ts), each rounded to 16 bytes. */
function estimateCropBytes(
  channels: number, cropW: number, cropH: number, dstW: number, dstH: number,
): number {
  const sx = shrinkFactor(cropW, dstW);
  const sy = shrinkFactor(cropH, dstH);
  const boxed = sx > 1 || sy > 1;
  const shrunkW = Math.ceil(cropW / sx);
  const tapsX = taps(cropW / sx / dstW);
  const tapsY = taps(cropH / sy / dstH);
  const a16 = (n: number) => Math.ceil(n / 16) * 16;
  const out = dstW * dstH * channels;
  let heap =
    STATIC_BYTES +
    2 * (a16(32) + a16(dstW * 4) * 2) + a16(dstW * tapsX * 4) + a16(dstH * tapsY * 4) + // Lanczos weights
    a16(sy * cropW * channels + 32) + // one band of source rows
    a16(tapsY * 4) + a16(out + 16);
  if (channels === 3) {
    // Grouped fixed-point weights, the optional box-shrunk row, and a ring of i16 rows.
    heap += a16(dstW * Math.ceil(tapsX / 4) * 32) + a16(tapsX * 2) + a16(dstH * tapsY * 2);
    if (boxed) heap += a16(shrunkW * 16) + a16(shrunkW * 3 + 32);
    heap += a16(tapsY * a16(dstW * 3 + 1) * 2 + 32);
  } else {
    // Paired fixed-point weights, the optional box-shrunk row, one premultiplied i16 row, a ring of i16 rows.
    heap += a16(dstW * Math.ceil(tapsX / 2) * 16) + a16(tapsX * 2) + a16(dstH * tapsY * 2);
    if (boxed) heap += a16(shrunkW * 16);
    heap += a16(shrunkW * 8 + 32) + a16(tapsY * (dstW + (dstW & 1)) * 8 + 32);
  }
  return Math.ceil(heap / PAGE) * PAGE + out;
}

/** Mirrors the kernel's `shrinkFactor`: libvips' floor(scale / 2). */
function shrinkFactor(inLen: number, outLen: number): number {
  return Math.max(1, Math.floor(inLen / outLen / 2));
}

/** Mirrors the kernel's `tapsFor`: Lanczos3 support widened by the scale when shrinking. */
function taps(scale: number): number {
  return Math.ceil(3 * Math.max(scale, 1)) * 2 + 1;
}

function instantiate(
  module: WebAssembly.Module, fetchRows: (first: number, count: number, dst: number) => void,
): ResizeExports {
  const instance = new WebAssembly.Instance(module, {
    env: {
      fetchRows,
      abort(): never {
        throw new CodecError("corrupt", "resize: kernel aborted");
      },
    },
  });
  return instance.exports as unknown as ResizeExports;
}

/**
 * Runs a kernel call, turning the one trap the kernel raises on purpose (`unreachable` when memory cannot
 * grow) into a limit error. Any other trap is a kernel bug and propagates as it is.
 */
function callKernel<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof WebAssembly.RuntimeError && /unreachable/i.test(e.message)) {
      throw new CodecError("limit", "resize: the kernel could not grow its memory for this image");
    }
    throw e;
  }
}

function extract(src: Raster, crop: Rect): Raster {
  const ch = src.channels;
  if (crop.left === 0 && crop.top === 0 && crop.width === src.width && crop.height === src.height) {
    return { data: src.data.slice(), width: src.width, height: src.height, channels: ch };
  }
  const out = new Uint8Array(crop.width * crop.height * ch);
  const rowBytes = crop.width * ch;
  for (let y = 0; y < crop.height; y++) {
    const from = ((crop.top + y) * src.width + crop.left) * ch;
    out.set(src.data.subarray(from, from + rowBytes), y * rowBytes);
  }
  return { data: out, width: crop.width, height: crop.height, channels: ch };
}

function checkRaster(src: Raster, op: string): void {
  const { width, height, channels, data } = src;
  if (channels !== 3 && channels !== 4) {
    throw new CodecError("unsupported", `${op}: channels must be 3 or 4, got ${channels}`);
  }
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new CodecError("corrupt", `${op}: source size must be positive integers, got ${width}x${height}`);
  }
  if (data.length !== width * height * channels) {
    throw new CodecError("corrupt", `${op}: source has ${data.length} bytes, expected ${width}x${height}x${channels} = ${width * height * channels}`);
  }
}

function checkSize(width: number, height: number, op: string): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new CodecError("limit", `${op}: target size must be positive integers, got ${width}x${height}`);
  }
}

function checkCrop(crop: Rect, image: { width: number; height: number }, op: string): void {
  const { left, top, width, height } = crop;
  const ints = [left, top, width, height].every(Number.isInteger);
  if (!ints || left < 0 || top < 0 || width < 1 || height < 1 || left + width > image.width || top + height > image.height) {
    throw new CodecError(
      "limit",
      `${op}: crop must be a non-empty integer rect inside the ${image.width}x${image.height} image, got ` +
        `left=${left} top=${top} width=${width} height=${height}`,
    );
  }
}
