// Comparisons shared by the codec suites.
import { expect } from "vitest";
import { CodecError } from "../../wasm/src/errors.ts";

/** Peak signal-to-noise ratio between two equally sized 8-bit buffers, in dB (Infinity when identical). */
export function psnr(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new Error(`psnr: ${a.length} vs ${b.length} bytes`);
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i] - b[i]) ** 2;
  return se === 0 ? Infinity : 10 * Math.log10((255 * 255 * a.length) / se);
}

/** Asserts that `fn` throws a CodecError of the given kind whose message matches. */
export function expectCodecError(fn: () => unknown, kind: CodecError["kind"], message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, "expected a CodecError").toBeInstanceOf(CodecError);
  const error = caught as CodecError;
  expect(error.kind).toBe(kind);
  expect(error.message).toMatch(message);
}
