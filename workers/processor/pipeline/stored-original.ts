// An original read from storage for a render: its header from the first bytes of the object's body, and the whole
// file as a stream the engine writes straight where its decoder reads it (wasm/src/source-stream.ts). The
// processor never holds the file itself, so a 50 MB original is held once, in the engine.
import { CodecError } from "../../../wasm/src/errors.ts";
import { probeImage, type ImageHeader } from "../../../wasm/src/probe.ts";
import type { SourceStream } from "../../../wasm/src/source-stream.ts";

/** How much of the body is buffered, at most, to find the header (a JPEG's can follow large APP segments). */
const HEADER_READS = [64 * 1024, 1024 * 1024, 16 * 1024 * 1024];

export interface StoredOriginal {
  header: ImageHeader;
  source: SourceStream;
}

/**
 * Probes the object's header from the start of its body and hands the rest on unread. Throws the probe's
 * CodecError (not an image we take, a damaged header, a bomb) like a probe of the whole file would.
 */
export async function readStoredOriginal(object: R2ObjectBody): Promise<StoredOriginal> {
  const reader = object.body.getReader();
  const prefix: Uint8Array[] = [];
  let buffered = 0;
  let ended = false;
  let header: ImageHeader | undefined;
  for (const limit of HEADER_READS) {
    while (!ended && buffered < Math.min(limit, object.size)) {
      const { done, value } = await reader.read();
      if (done) ended = true;
      else {
        prefix.push(value);
        buffered += value.length;
      }
    }
    try {
      header = probeImage(concat(prefix, buffered));
      break;
    } catch (error) {
      // A header that looks damaged may only be cut off by the read: read further, up to the last read.
      const cutOff = error instanceof CodecError && error.kind === "corrupt" && !ended && buffered < object.size;
      if (!cutOff || limit === HEADER_READS.at(-1)) {
        reader.cancel().catch(() => {});
        throw error;
      }
    }
  }
  const stream = new ReadableStream<Uint8Array>({
    pull: async (controller) => {
      const chunk = prefix.shift();
      if (chunk) return controller.enqueue(chunk);
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return { header: header!, source: { byteLength: object.size, stream } };
}

function concat(chunks: Uint8Array[], length: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(length);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
