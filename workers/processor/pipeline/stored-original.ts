// An original read from storage for a render: its header from ranged reads of the object's first bytes, and the
// whole file as the object's own body stream, which the engine writes straight where its decoder reads it
// (wasm/src/source-stream.ts). The processor never holds the file itself, so a 50 MB original is held once, in
// the engine; and the body is R2's own stream, which the runtime pipes on without JavaScript per chunk.
import { CodecError } from "../../../wasm/src/errors.ts";
import { probeImage, type ImageHeader } from "../../../wasm/src/probe.ts";
import type { SourceStream } from "../../../wasm/src/source-stream.ts";

/**
 * How much of an object is read for its header, growing only when the header is not complete yet: most images'
 * headers fit in the first 64 KiB; large EXIF, ICC or XMP segments before a JPEG's frame header can push it out.
 */
const HEADER_READS = [64 * 1024, 1024 * 1024, 16 * 1024 * 1024];

export interface StoredOriginal {
  header: ImageHeader;
  source: SourceStream;
}

/** What a probe of an object's first bytes found: the header, and the bytes it was found in. */
export interface ProbedPrefix<H> {
  header: H;
  prefix: Uint8Array;
  etag: string;
}

/**
 * Probes the object at `key` from its first bytes, reading more (HEADER_READS) while `cutOff` says the probe's
 * error may only mean the header did not fit; past the last read, `tooFar` is thrown. With `etag`, only that
 * version of the object is read ("replaced" when another is there); "missing" when there is none.
 */
export async function probeStoredPrefix<H>(
  bucket: R2Bucket,
  key: string,
  probe: (prefix: Uint8Array) => H,
  cutOff: (error: unknown) => boolean,
  tooFar: (bytes: number) => Error,
  etag?: string,
): Promise<ProbedPrefix<H> | "missing" | "replaced"> {
  for (const [i, length] of HEADER_READS.entries()) {
    const object = await bucket.get(key, { range: { offset: 0, length }, ...(etag ? { onlyIf: { etagMatches: etag } } : {}) });
    if (!object) return "missing";
    if (!("body" in object)) return "replaced";
    const prefix = new Uint8Array(await object.arrayBuffer());
    try {
      return { header: probe(prefix), prefix, etag: object.etag };
    } catch (error) {
      if (!cutOff(error) || prefix.length >= object.size) throw error;
      if (i === HEADER_READS.length - 1) throw tooFar(length);
    }
  }
  throw new Error("unreachable: the last header read either probes or throws");
}

/**
 * Probes the header of the original at `key`, then opens the whole object (the same version). Null when there is
 * no such object; throws the probe's CodecError (not an image we take, a damaged header, a bomb) like a probe of
 * the whole file would.
 */
export async function readStoredOriginal(bucket: R2Bucket, key: string): Promise<StoredOriginal | null> {
  const probed = await probeStoredPrefix(
    bucket,
    key,
    probeImage,
    (error) => error instanceof CodecError && error.kind === "corrupt",
    (bytes) => new CodecError("corrupt", `the image's header is not within the first ${bytes / 1024 / 1024} MiB of the file`),
  );
  if (probed === "missing") return null;
  if (probed === "replaced") throw new Error("unreachable: no version was asked for");
  const object = await bucket.get(key, { onlyIf: { etagMatches: probed.etag } });
  if (!object) return null;
  if (!("body" in object)) throw new Error(`the original ${key} was replaced while it was read`);
  return { header: probed.header, source: { byteLength: object.size, stream: object.body } };
}
