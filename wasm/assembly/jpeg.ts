// JPEG decoder entry: baseline and progressive Huffman JPEG → RGB (or CMYK ink) at 1/1, 1/2, 1/4 or 1/8 scale.
// The TypeScript wrapper (wasm/src/jpeg.ts) instantiates one instance per image.
import * as decoder from "./jpeg/decoder";

export function alloc(n: i32): usize { return decoder.alloc(n); }
export function decode(ptr: usize, len: i32, scale: i32, colorSpace: i32, maxPixels: f64, channels: i32): i32 {
  return decoder.decode(ptr, len, scale, colorSpace, maxPixels, channels);
}
export function errorKind(): i32 { return decoder.errorKind(); }
export function errorMessage(): string { return decoder.errorMessage(); }
export function outputPtr(): usize { return decoder.outputPtr(); }
export function outputWidth(): i32 { return decoder.outputWidth(); }
export function outputHeight(): i32 { return decoder.outputHeight(); }
