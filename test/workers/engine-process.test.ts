import { describe, expect, it } from "vitest";
import { CodecError } from "../../wasm/src/errors.ts";
import { probeImage } from "../../wasm/src/probe.ts";
import { renderInEngineProcess, serveRenderCall, type EngineProcess } from "../../workers/processor/pipeline/engine-process.ts";
import { renderInPlace, renderOutputs, rendersInPlace } from "../../workers/processor/pipeline/render.ts";
import type { OutputRequest } from "../../workers/shared/render.ts";
import { parseFlexibleOptions } from "../../workers/shared/transform.ts";
import { loadDrawOriginals } from "../../workers/processor/pipeline/draw-layers.ts";
import { fixture } from "./helpers.ts";

const TOKEN = "engine-test-token";
const settings = { memoryBudgetBytes: 96 * 1024 * 1024, limits: { maxPixels: 100_000_000 } };

/** A render process reached without a socket: each call goes straight to the serving side, counted. */
function engine(token = TOKEN): EngineProcess & { calls: number } {
  const process = {
    url: "http://render-process.test",
    token,
    calls: 0,
    send: async (request: Request) => {
      process.calls++;
      return serveRenderCall(request, TOKEN, renderInPlace);
    },
  };
  return process;
}

const request = (options: string, format: OutputRequest["format"]): OutputRequest => ({
  transform: parseFlexibleOptions(options),
  format,
  fingerprint: "test",
  variant: null,
});

describe("the local render process", () => {
  it("renders exactly what rendering in place renders, several outputs from one call", async () => {
    const original = fixture("landscapeJpeg");
    const source = probeImage(original);
    const requests = [request("w=200", "webp"), request("w=90,h=90,fit=cover", "jpeg")];
    const remote = engine();
    const there = await renderInEngineProcess(remote, settings, original, source, requests);
    const here = await renderInPlace(settings, original, source, requests);
    expect(remote.calls).toBe(1);
    expect(there).toHaveLength(2);
    for (const [i, output] of there.entries()) {
      expect(output).toMatchObject({ contentType: here[i].contentType, width: here[i].width, height: here[i].height });
      expect(output.bytes).toEqual(here[i].bytes);
    }
    expect(probeImage(there[1].bytes)).toMatchObject({ format: "jpeg", width: 90, height: 90 });
  });

  it("passes a codec failure back as the same CodecError, so a job records it as the image's failure", async () => {
    const original = fixture("corruptJpeg");
    const error = await renderInEngineProcess(engine(), settings, original, probeImage(original), [request("w=100", "webp")]).catch((e) => e);
    expect(error).toBeInstanceOf(CodecError);
    const inPlace = await renderInPlace(settings, original, probeImage(original), [request("w=100", "webp")]).catch((e) => e);
    expect(error).toMatchObject({ kind: inPlace.kind, message: inPlace.message });
  });

  it("obeys the caller's memory budget, not its own", async () => {
    const original = fixture("landscapeJpeg");
    const tight = { memoryBudgetBytes: 64 * 1024, limits: { maxPixels: 100_000_000 } };
    const error = await renderInEngineProcess(engine(), tight, original, probeImage(original), [request("w=600", "webp")]).catch((e) => e);
    expect(error).toBeInstanceOf(CodecError);
    expect(error.message).toContain("memory budget");
  });

  it("refuses a caller without the run's token, and a call without a length", async () => {
    const original = fixture("landscapeJpeg");
    const error = await renderInEngineProcess(engine("wrong"), settings, original, probeImage(original), [request("w=100", "webp")]).catch((e) => e);
    expect(error).not.toBeInstanceOf(CodecError);
    expect(error.message).toContain("ENGINE_TOKEN");
    const unsized = new Request("http://render-process.test/render", {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}` },
      body: new ReadableStream({ start: (c) => (c.enqueue(new Uint8Array(8)), c.close()) }),
    });
    expect((await serveRenderCall(unsized, TOKEN, renderInPlace)).status).toBe(411);
  });

  it("renders in place when the render process cannot be reached", async () => {
    const original = fixture("landscapeJpeg");
    let tried = 0;
    const gone: EngineProcess = {
      url: "http://render-process.test",
      token: TOKEN,
      send: async () => {
        tried++;
        throw new TypeError("connection refused");
      },
    };
    const [output] = await renderOutputs(settings, original, probeImage(original), [request("w=1200,h=1000,fit=pad", "png")], gone);
    expect(tried).toBe(1);
    expect(probeImage(output.bytes)).toMatchObject({ format: "png", width: 1200, height: 1000 });
  });

  it("does not render in place when the render process answered with a failure (the job is retried instead)", async () => {
    const original = fixture("landscapeJpeg");
    const failing: EngineProcess = { url: "http://render-process.test", token: TOKEN, send: async () => Response.json({ kind: "error", message: "boom" }, { status: 500 }) };
    const error = await renderOutputs(settings, original, probeImage(original), [request("w=1200,h=1000,fit=pad", "png")], failing).catch((e) => e);
    expect(error).not.toBeInstanceOf(CodecError);
    expect(error.message).toContain("boom");
  });

  it("keeps a small render in place: a small file to small outputs is not worth the trip", async () => {
    const original = fixture("landscapeJpeg");
    const source = probeImage(original);
    const remote = engine();
    const [output] = await renderOutputs(settings, original, source, [request("w=200", "webp")], remote);
    expect(remote.calls).toBe(0);
    expect(probeImage(output.bytes)).toMatchObject({ format: "webp", width: 200 });
    expect(rendersInPlace(original, source, [request("w=200", "webp")])).toBe(true);
    expect(rendersInPlace(original, source, [request("w=1200,h=1000,fit=pad", "webp")])).toBe(false);
    expect(rendersInPlace({ byteLength: 2 * 1024 * 1024, stream: new ReadableStream() }, source, [request("w=200", "webp")])).toBe(false);
  });

  it("renders a target that draws layers in place, however large: the call carries no layers", async () => {
    const original = fixture("landscapeJpeg");
    const remote = engine();
    const drawing = request("w=1200,h=1000,fit=pad", "png");
    drawing.transform.draw = [{ image: "logo", life: "0123456789abcdef", width: 0.1, top: 0, left: 0, gravity: "center", opacity: 1, repeat: false }];
    const bucket = { get: async () => ({ arrayBuffer: async () => fixture("alphaPng").slice().buffer }) } as unknown as R2Bucket;
    const [output] = await renderOutputs(settings, original, probeImage(original), [drawing], remote, undefined, undefined, await loadDrawOriginals(bucket, [drawing]));
    expect(remote.calls).toBe(0);
    expect(probeImage(output.bytes)).toMatchObject({ format: "png", width: 1200, height: 1000 });
  });
});
