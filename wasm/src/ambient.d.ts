// Ambient declarations for imports TypeScript cannot type on its own.

/** wrangler bundles `.wasm` imports as compiled modules. */
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}

/** omggif 1.0.10 ships no types; only the reader's first-frame API is used. */
declare module "omggif" {
  export class GifReader {
    constructor(buf: Uint8Array);
    width: number;
    height: number;
    numFrames(): number;
    frameInfo(frameNum: number): { x: number; y: number; width: number; height: number; transparent_index: number | null; disposal: number; delay: number };
    decodeAndBlitFrameRGBA(frameNum: number, pixels: Uint8Array | Uint8ClampedArray): void;
  }
  const omggif: { GifReader: typeof GifReader };
  export default omggif;
}
