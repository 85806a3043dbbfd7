/**
 * An original handed to the engine as a stream (an R2 object's body) instead of bytes: the engine writes it
 * straight where its decoder reads it (for JPEG, our kernel's own memory), so a large file is held once, and
 * lets it go once it is decoded.
 */
import { CodecError } from "./errors.ts";

export interface SourceStream {
  /** The file's exact length (the R2 object's size). */
  byteLength: number;
  stream: ReadableStream<Uint8Array>;
}

export function isSourceStream(input: Uint8Array | SourceStream): input is SourceStream {
  return !(input instanceof Uint8Array);
}

/** Reads the whole stream into `into` (exactly its length): a shorter or longer stream is a corrupt original. */
export async function readSourceInto(source: SourceStream, into: Uint8Array): Promise<void> {
  const reader = source.stream.getReader();
  let filled = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (filled + value.length > into.length) throw new CodecError("corrupt", `the original is longer than its ${into.length} bytes`);
      into.set(value, filled);
      filled += value.length;
    }
  } finally {
    reader.releaseLock();
  }
  if (filled !== into.length) throw new CodecError("corrupt", `the original is truncated: ${filled} of ${into.length} bytes`);
}
