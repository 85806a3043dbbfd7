/**
 * The one error type codecs and kernels throw. `kind` tells the platform what to do with it:
 * - `unsupported`: not a format or variant of a format we decode (415 at upload, or fallback).
 * - `corrupt`: the stream is damaged or hostile; retrying cannot help (the image ends `failed`).
 * - `limit`: a configured limit (dimensions, pixels, memory budget) would be exceeded; the message names it.
 */
export type CodecErrorKind = "unsupported" | "corrupt" | "limit";

export class CodecError extends Error {
  readonly kind: CodecErrorKind;

  constructor(kind: CodecErrorKind, message: string) {
    super(message);
    this.name = "CodecError";
    this.kind = kind;
  }
}
