import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { decodeStill } from "../../wasm/src/compose.ts";
import { engineModules } from "../../wasm/src/modules.worker.ts";
import { probeImage } from "../../wasm/src/probe.ts";
import type { Raster } from "../../wasm/src/raster.ts";
import { fixture } from "./helpers.ts";
import type { FixtureName } from "../fixtures/images.ts";

// Everything here goes through test/workers/images-client/worker.js, a Worker of its own that reaches the
// processor's ImagesService entrypoint through a real service binding, as a user's Worker would.

const base64 = (bytes: Uint8Array) => btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(""));
const image = (name: FixtureName) => base64(fixture(name));

interface Recipe {
  image: string;
  encoding?: "base64";
  steps?: ({ transform: Record<string, unknown> } | { draw: { image: string; transform?: Record<string, unknown>; options?: Record<string, unknown> } })[];
  output: Record<string, unknown>;
}

async function run(recipe: Recipe, path = "/response") {
  const response = await env.IMAGES_CLIENT.fetch(`http://client${path}`, { method: "POST", body: JSON.stringify(recipe) });
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (response.status !== 200) return { status: response.status, error: (JSON.parse(new TextDecoder().decode(bytes)) as { error: string }).error };
  return { status: 200, bytes, contentType: response.headers.get("content-type"), header: probeImage(bytes) };
}

const pixel = (r: Raster, x: number, y: number) => Array.from(r.data.subarray((y * r.width + x) * r.channels, (y * r.width + x) * r.channels + 3));
const decode = (bytes: Uint8Array) => decodeStill(bytes, engineModules, 100_000_000);

describe("the Images-binding-style API, from another Worker through a service binding", () => {
  it("info() tells the format, the file size and the dimensions", async () => {
    const response = await env.IMAGES_CLIENT.fetch("http://client/info", { method: "POST", body: fixture("landscapeJpeg") });
    expect(await response.json()).toEqual({ format: "image/jpeg", fileSize: fixture("landscapeJpeg").length, width: 640, height: 480 });
  });

  it("runs transforms in call order, then encodes the output format", async () => {
    // Cloudflare's own example: rotate, then resize (the width applies to the rotated image), then blur.
    const out = await run({ image: image("landscapeJpeg"), steps: [{ transform: { rotate: 90 } }, { transform: { width: 128 } }, { transform: { blur: 20 } }], output: { format: "image/webp", quality: 70 } });
    expect(out.status).toBe(200);
    expect(out.contentType).toBe("image/webp");
    expect(out.header).toMatchObject({ format: "webp", width: 128, height: 171 });

    const cover = await run({ image: image("rotatedJpeg"), steps: [{ transform: { width: 100, height: 100, fit: "cover", gravity: { x: 0, y: 0 } } }], output: { format: "image/jpeg" } });
    expect(cover.header).toMatchObject({ format: "jpeg", width: 100, height: 100, orientation: 1 });

    const asIs = await run({ image: image("alphaPng"), output: { format: "image/png" } });
    expect(asIs.header).toMatchObject({ format: "png", width: 400, height: 300, hasAlpha: true });
  });

  it("takes base64 input and gives the image as a stream", async () => {
    const out = await run({ image: image("lossyWebp"), encoding: "base64", steps: [{ transform: { width: 64 } }], output: { format: "image/avif" } }, "/image");
    expect(out.contentType).toBe("image/avif");
    expect(out.header).toMatchObject({ format: "avif", width: 64, height: 48 });
  });

  it("draws a watermark: sized by its own transform, placed by offsets, blended by opacity", async () => {
    const plain = await decode((await run({ image: image("landscapeJpeg"), output: { format: "image/png" } })).bytes!);
    const watermark = { image: image("alphaPng"), transform: { width: 80 } }; // a red disc of radius 24 in 80×60
    const marked = await run({ image: image("landscapeJpeg"), steps: [{ draw: { ...watermark, options: { bottom: 10, right: 20 } } }], output: { format: "image/png" } });
    expect(marked.error).toBeUndefined();
    expect(marked.header).toMatchObject({ width: 640, height: 480 });
    const drawn = await decode(marked.bytes!);
    // The disc's centre: 20 px from the right and 10 from the bottom, plus half the 80×60 watermark.
    expect(pixel(drawn, 640 - 20 - 40, 480 - 10 - 30)).toEqual([255, 0, 0]);
    // The watermark's transparent corner and everything outside it are the base's pixels.
    expect(pixel(drawn, 640 - 20 - 78, 480 - 10 - 58)).toEqual(pixel(plain, 640 - 20 - 78, 480 - 10 - 58));
    expect(pixel(drawn, 100, 100)).toEqual(pixel(plain, 100, 100));

    const faint = await decode((await run({ image: image("landscapeJpeg"), steps: [{ draw: { ...watermark, options: { top: 0, left: 0, opacity: 0.5 } } }], output: { format: "image/png" } })).bytes!);
    const [r, g, b] = pixel(plain, 40, 30);
    const blended = pixel(faint, 40, 30);
    expect(blended[0]).toBeCloseTo((255 + r) / 2, -0.5);
    expect(blended[1]).toBeCloseTo(g / 2, -0.5);
    expect(blended[2]).toBeCloseTo(b / 2, -0.5);
  });

  it("tiles a watermark with repeat, and transforms after a draw see the drawn image", async () => {
    const tiled = await run({
      image: image("landscapeJpeg"),
      steps: [{ draw: { image: image("alphaPng"), transform: { width: 80 }, options: { top: 0, left: 0, repeat: true } } }, { transform: { width: 320 } }],
      output: { format: "image/png" },
    });
    expect(tiled.header).toMatchObject({ width: 320, height: 240 });
    const raster = await decode(tiled.bytes!);
    // Disc centres every 80×60 px at full size: every 40×30 px after the resize to half.
    for (const [x, y] of [[20, 15], [60, 45], [300, 225]]) {
      const [red, green, blue] = pixel(raster, x, y);
      expect(red).toBeGreaterThan(240);
      expect(green + blue).toBeLessThan(30);
    }
  });

  it("refuses what Cloudflare's binding refuses, naming the option, with the same limits as uploads", async () => {
    expect((await run({ image: image("landscapeJpeg"), steps: [{ transform: { width: 0 } }], output: { format: "image/webp" } })).error).toMatch(
      /IMAGES_ERROR 9422: width must be an integer from 1 to 12000/,
    );
    expect((await run({ image: image("landscapeJpeg"), steps: [{ transform: { sepia: 1 } }], output: { format: "image/webp" } })).error).toMatch(
      /unknown flexible variant option "sepia"/,
    );
    expect((await run({ image: image("landscapeJpeg"), steps: [{ transform: { format: "webp" } }], output: { format: "image/webp" } })).error).toMatch(
      /format belongs in output\(\)/,
    );
    expect((await run({ image: image("landscapeJpeg"), output: { format: "rgba" } })).error).toMatch(/output format must be one of image\/avif/);
    expect((await run({ image: image("landscapeJpeg"), output: { format: "image/webp", quality: 101 } })).error).toMatch(/quality must be an integer from 1 to 100/);
    expect((await run({ image: image("textFile"), output: { format: "image/webp" } })).error).toMatch(/IMAGES_ERROR 9412/);
    expect((await run({ image: image("tooManyPixelsPng"), output: { format: "image/webp" } })).error).toMatch(/IMAGES_ERROR 9413: .*MAX_PIXELS/);
    expect(
      (await run({ image: image("landscapeJpeg"), steps: [{ draw: { image: image("alphaPng"), options: { top: 1, bottom: 1 } } }], output: { format: "image/png" } })).error,
    ).toMatch(/give top or bottom, not both/);
    expect(
      (await run({ image: image("landscapeJpeg"), steps: [{ draw: { image: image("alphaPng"), options: { composite: "xor" } } }], output: { format: "image/png" } })).error,
    ).toMatch(/composite "xor" is not supported/);
  });
});
