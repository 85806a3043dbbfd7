import { beforeAll, describe, expect, it } from "vitest";
import sharp from "sharp";
import { renderTargets, type EngineModules, type RenderReport, type RenderTarget } from "../../wasm/src/engine.ts";
import { loadEngineModules } from "../../wasm/src/modules.node.ts";
import { REUSABLE_STEPS, TARGET_STEPS } from "../../wasm/src/steps/index.ts";
import type { Raster } from "../../wasm/src/raster.ts";
import { picture, probe } from "./fixtures.ts";

let modules: EngineModules;
beforeAll(async () => {
  modules = await loadEngineModules({ kernels: true });
});

const target = (t: Partial<RenderTarget> & Pick<RenderTarget, "width" | "height" | "format">): RenderTarget =>
  ({ quality: 90, metadata: "none", ...t });

async function render(input: Uint8Array, targets: RenderTarget[]) {
  let plan: RenderReport["plan"] | undefined;
  const outputs = await renderTargets(input, await probe(input), targets, { modules, maxPixels: 1e8 }, (r) => (plan = r.plan));
  return { outputs, plan: plan! };
}

async function rawPixels(bytes: Uint8Array) {
  return (await sharp(bytes).ensureAlpha().raw().toBuffer({ resolveWithObject: true })).data;
}

describe("the target pipeline is a list of steps", () => {
  it("starts with the reusable steps (resize), then the ones each target runs alone", () => {
    expect(TARGET_STEPS[0].name).toBe("resize");
    expect(TARGET_STEPS.slice(0, REUSABLE_STEPS).every((s) => s.reusable)).toBe(true);
    expect(TARGET_STEPS.slice(REUSABLE_STEPS).every((s) => !s.reusable)).toBe(true);
  });

  it("a step with nothing to do hands back its input itself", async () => {
    const image = { data: new Uint8Array(4 * 4 * 3), width: 4, height: 4, channels: 3 as const };
    const plain = target({ width: 4, height: 4, format: "png" });
    const context = { modules, orientation: 1 as const, crop: { left: 0, top: 0, width: 4, height: 4 } };
    for (const step of TARGET_STEPS.slice(REUSABLE_STEPS)) expect(await step.run(image, plain, context), step.name).toBe(image);
  });
});

describe("the cascade shares only what the reusable steps made", () => {
  // A transparent source: the large JPEG target flattens it onto black (a step that changes its pixels only);
  // the small PNG target cascades from the large one's content and must still be transparent where the source is.
  it("a flattened large target does not flatten the small one resized from it", async () => {
    const input = await sharp(picture(800, 600, true), { raw: { width: 800, height: 600, channels: 4 } }).png().toBuffer();
    const small = target({ width: 200, height: 150, format: "png" });
    const { outputs: [, cascaded], plan } = await render(input, [target({ width: 400, height: 300, format: "jpeg", background: [0, 0, 0] }), small]);
    expect(plan.steps.map((s) => s.from)).toEqual(["source", "previous"]);
    const { outputs: [alone] } = await render(input, [small]);
    const [a, b] = [await rawPixels(cascaded.bytes), await rawPixels(alone.bytes)];
    // The right edge of the picture is fully transparent: so it stays in the cascaded output.
    const edge = (px: Buffer) => px[(75 * 200 + 199) * 4 + 3];
    expect(edge(b)).toBe(0);
    expect(edge(a)).toBe(0);
  });

  it("a padded target does not pad the same-size target that reuses its content", async () => {
    const input = await sharp(picture(480, 320), { raw: { width: 480, height: 320, channels: 4 } }).removeAlpha().png().toBuffer();
    const { outputs: [padded, plain], plan } = await render(input, [
      target({ width: 300, height: 200, format: "png", canvas: { width: 300, height: 300, background: [0, 0, 255, 255] } }),
      target({ width: 300, height: 200, format: "png" }),
    ]);
    expect(plan.steps.map((s) => s.from)).toEqual(["source", "same"]);
    expect([padded.width, padded.height]).toEqual([300, 300]);
    expect([plain.width, plain.height]).toEqual([300, 200]);
  });

  it("draws a layer over the finished output (the border included), and not over the same-size target that reuses its content", async () => {
    const input = await sharp(picture(480, 320), { raw: { width: 480, height: 320, channels: 4 } }).removeAlpha().png().toBuffer();
    const red: Raster = { data: new Uint8Array(20 * 10 * 4).fill(255).map((v, i) => (i % 4 === 1 || i % 4 === 2 ? 0 : v)), width: 20, height: 10, channels: 4 };
    const layer = [{ raster: red, placement: { top: 0, left: 0 } }];
    const border = { top: 5, right: 5, bottom: 5, left: 5, color: [0, 0, 0, 255] as [number, number, number, number] };
    const { outputs: [marked, plain, framed], plan } = await render(input, [
      target({ width: 300, height: 200, format: "png", draw: layer }),
      target({ width: 300, height: 200, format: "png" }),
      target({ width: 300, height: 200, format: "png", border, draw: layer }),
    ]);
    expect(plan.steps.map((s) => s.from)).toEqual(["source", "same", "same"]);
    const [m, p, f] = [await rawPixels(marked.bytes), await rawPixels(plain.bytes), await rawPixels(framed.bytes)];
    const at = (px: Buffer, width: number, x: number, y: number) => Array.from(px.subarray((y * width + x) * 4, (y * width + x) * 4 + 3));
    expect(at(m, 300, 2, 2)).toEqual([255, 0, 0]);
    expect(at(m, 300, 19, 9)).toEqual([255, 0, 0]);
    expect(at(m, 300, 150, 100)).toEqual(at(p, 300, 150, 100));
    // The plain target shares the drawn one's content: the layer must not reach it.
    expect(at(p, 300, 2, 2)).not.toEqual([255, 0, 0]);
    // Drawn over the final image: on the border's corner.
    expect(at(f, 310, 2, 2)).toEqual([255, 0, 0]);
  });

  it("counts a drawn layer's raster in the target's memory plan", () => {
    const draw = TARGET_STEPS.find((s) => s.name === "draw")!;
    const layer: Raster = { data: new Uint8Array(100 * 50 * 4), width: 100, height: 50, channels: 4 };
    const t = target({ width: 300, height: 200, format: "png" });
    expect(draw.workBytes(t, 3)).toBe(0);
    expect(draw.workBytes({ ...t, draw: [{ raster: layer, placement: {} }] }, 3)).toBe(300 * 200 * 3 + 100 * 50 * 4);
  });
});
