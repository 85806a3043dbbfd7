// Resize kernel: integer box pre-shrink, then separable Lanczos3, streaming rows so that only one source row
// buffer and a ring of horizontally filtered rows (as many as the vertical kernel has taps) are ever live.
// The caller (wasm/src/resize.ts) copies the source into this instance once, calls `resize`, reads the output
// and drops the instance.
import { take, arenaTop } from "./resize/arena";
import { contributions } from "./resize/lanczos";
import { convertRow, boxRow } from "./resize/rows";
import { horizontal, vertical } from "./resize/passes";

/** Reserves `bytes` in this instance's memory (for the caller's source copy) and returns the address. */
export function allocate(bytes: usize): usize {
  return take(bytes);
}

/** High-water mark of this instance's heap, for checking the memory estimate. */
export function heapTop(): usize {
  return arenaTop();
}

/**
 * The integer box-shrink factor for one axis: libvips' choice (floor(scale / 2), its default reduction gap of
 * 2) so the Lanczos pass that follows always reduces by at least 2× and never sees box-filter aliasing alone.
 */
export function shrinkFactor(inLen: i32, outLen: i32): i32 {
  const s = <i32>Math.floor(<f64>inLen / <f64>outLen / 2.0);
  return s > 1 ? s : 1;
}

/**
 * Resizes a `cropW`×`cropH` window to `dstW`×`dstH` and returns the address of the packed output
 * (`dstW * dstH * channels` bytes). `src` addresses the window's top row; rows are `stride` bytes apart and
 * the window starts `cropLeft` pixels into each row.
 */
export function resize(
  src: usize, stride: usize, channels: i32, cropLeft: i32, cropW: i32, cropH: i32, dstW: i32, dstH: i32,
): usize {
  const sx = shrinkFactor(cropW, dstW);
  const sy = shrinkFactor(cropH, dstH);
  const shrunkW = (cropW + sx - 1) / sx;
  const shrunkH = (cropH + sy - 1) / sy;
  // Scales are taken from the crop, not the rounded-up shrunk size, so a partial last box keeps geometry exact.
  const cx = contributions(shrunkW, dstW, <f64>cropW / <f64>sx / <f64>dstW);
  const cy = contributions(shrunkH, dstH, <f64>cropH / <f64>sy / <f64>dstH);

  const ringRows = cy.maxCount;
  const ringStride = <usize>dstW << 4;
  const rowBuf = take(<usize>shrunkW << 4);
  const ring = take(<usize>ringRows * ringStride);
  const rowPtrs = take(<usize>cy.taps << 2);
  const out = take(<usize>dstW * <usize>dstH * <usize>channels + 4);
  const left = src + <usize>cropLeft * <usize>channels;
  const boxed = sx > 1 || sy > 1;

  let produced = 0;
  for (let j = 0; j < dstH; j++) {
    const start = load<i32>(cy.starts + (<usize>j << 2));
    const n = load<i32>(cy.counts + (<usize>j << 2));
    while (produced < start + n) {
      if (boxed) {
        const y0 = produced * sy;
        boxRow(left + <usize>y0 * stride, stride, min(sy, cropH - y0), channels, cropW, sx, shrunkW, rowBuf);
      } else {
        convertRow(left + <usize>produced * stride, channels, cropW, rowBuf);
      }
      horizontal(rowBuf, cx, dstW, ring + <usize>(produced % ringRows) * ringStride);
      produced++;
    }
    for (let k = 0; k < n; k++) {
      store<usize>(rowPtrs + (<usize>k << 2), ring + <usize>((start + k) % ringRows) * ringStride);
    }
    vertical(rowPtrs, cy, j, dstW, channels, out + <usize>j * <usize>dstW * <usize>channels);
  }
  return out;
}
