import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { CodecError } from "../../wasm/src/errors.ts";
import { readStoredOriginal } from "../../workers/processor/pipeline/stored-original.ts";
import { fixture } from "./helpers.ts";

/** `jpeg` with `count` APP15 segments of 64 KiB between SOI and the rest: its frame header moves that far back. */
function padded(jpeg: Uint8Array, count: number): Uint8Array {
  const segment = new Uint8Array(65535 + 2);
  segment.set([0xff, 0xef, 0xff, 0xff]);
  const out = new Uint8Array(jpeg.length + count * segment.length);
  out.set(jpeg.subarray(0, 2));
  for (let i = 0; i < count; i++) out.set(segment, 2 + i * segment.length);
  out.set(jpeg.subarray(2), 2 + count * segment.length);
  return out;
}

describe("an original read for a render", () => {
  it("probes its header from its first bytes, reading further past large segments, and streams the whole file", async () => {
    const file = padded(fixture("landscapeJpeg"), 5);
    await env.BUCKET.put("originals/test/big-header", file);
    const stored = await readStoredOriginal(env.BUCKET, "originals/test/big-header");
    expect(stored!.header).toMatchObject({ format: "jpeg", width: 640 });
    expect(stored!.source.byteLength).toBe(file.length);
    expect(new Uint8Array(await new Response(stored!.source.stream).arrayBuffer())).toEqual(file);
  });

  it("is null for an object that is not there, and names what is wrong with one that is not an image", async () => {
    expect(await readStoredOriginal(env.BUCKET, "originals/test/none")).toBeNull();
    await env.BUCKET.put("originals/test/text", new TextEncoder().encode("not an image at all"));
    const error = await readStoredOriginal(env.BUCKET, "originals/test/text").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CodecError);
    expect((error as CodecError).kind).toBe("unsupported");
  });
});
