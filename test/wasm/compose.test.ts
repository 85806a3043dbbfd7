import { describe, expect, it } from "vitest";
import sharp from "sharp";
import { drawOver } from "../../wasm/src/compose.ts";
import type { Raster } from "../../wasm/src/raster.ts";
import { psnr } from "./measure.ts";

// drawOver (the Images-binding API's draw()) against sharp's composite, which blends "over" with straight alpha.

const W = 200, H = 120;
/** A gradient base, RGB or RGBA (the RGBA one half transparent on the right). */
function base(channels: 3 | 4): Raster {
  const data = new Uint8Array(W * H * channels);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    const i = (y * W + x) * channels;
    data.set([x % 256, (y * 2) % 256, 128], i);
    if (channels === 4) data[i + 3] = x < W / 2 ? 255 : 128;
  }
  return { data, width: W, height: H, channels };
}
/** A 50×30 overlay: a soft-edged disc (alpha falls off from the centre). */
function overlay(): Raster {
  const w = 50, h = 30, data = new Uint8Array(w * h * 4);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const d = Math.hypot((x - w / 2) / (w / 2), (y - h / 2) / (h / 2));
    data.set([230, 40, 20, Math.max(0, Math.min(255, Math.round((1 - d) * 400)))], (y * w + x) * 4);
  }
  return { data, width: w, height: h, channels: 4 };
}
const raw = (r: Raster) => sharp(Buffer.from(r.data), { raw: { width: r.width, height: r.height, channels: r.channels } });

describe("drawing one image over another", () => {
  for (const channels of [3, 4] as const) {
    it(`matches sharp's composite over an ${channels === 3 ? "opaque" : "translucent"} base, at an offset`, async () => {
      const mine = drawOver(base(channels), overlay(), { top: 40, left: 70 });
      const composed = raw(base(channels)).composite([{ input: Buffer.from(overlay().data), raw: { width: 50, height: 30, channels: 4 }, top: 40, left: 70 }]);
      // sharp's composite answers RGBA even over an opaque base, whose alpha stays 255.
      const reference = await (channels === 3 ? sharp(await composed.png().toBuffer()).removeAlpha() : sharp(await composed.png().toBuffer())).raw().toBuffer();
      expect(mine.channels).toBe(channels);
      expect(psnr(mine.data, new Uint8Array(reference))).toBeGreaterThan(45);
    });
  }

  it("places by right/bottom offsets, centres without any, and clips at the edges", () => {
    const marked = (placement: Parameters<typeof drawOver>[2]) => {
      const r = drawOver(base(3), overlay(), placement);
      const changed: [number, number][] = [];
      const plain = base(3);
      for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) if (r.data[(y * W + x) * 3] !== plain.data[(y * W + x) * 3]) changed.push([x, y]);
      const xs = changed.map(([x]) => x), ys = changed.map(([, y]) => y);
      return { left: Math.min(...xs), right: Math.max(...xs), top: Math.min(...ys), bottom: Math.max(...ys) };
    };
    const corner = marked({ bottom: 0, right: 0 });
    expect(corner.right).toBeGreaterThan(W - 5);
    expect(corner.bottom).toBeGreaterThan(H - 5);
    const centred = marked({});
    expect((centred.left + centred.right) / 2).toBeCloseTo(W / 2, -1);
    expect((centred.top + centred.bottom) / 2).toBeCloseTo(H / 2, -1);
    const clipped = marked({ top: -10, left: -20 });
    expect(clipped.left).toBe(0);
    expect(clipped.top).toBe(0);
  });

  it("tiles with repeat, along both axes or one", () => {
    const count = (placement: Parameters<typeof drawOver>[2]) => {
      const r = drawOver(base(3), overlay(), placement);
      let discs = 0; // overlay centres are pure-ish red
      for (let y = 15; y < H; y += 30) for (let x = 25; x < W; x += 50) if (r.data[(y * W + x) * 3] > 200 && r.data[(y * W + x) * 3 + 1] < 80) discs++;
      return discs;
    };
    expect(count({ top: 0, left: 0 })).toBe(1);
    expect(count({ top: 0, left: 0, repeat: "x" })).toBe(4);
    expect(count({ top: 0, left: 0, repeat: "y" })).toBe(4);
    expect(count({ top: 0, left: 0, repeat: true })).toBe(16);
  });

  it("scales the overlay's alpha by opacity", () => {
    const half = drawOver(base(3), overlay(), { top: 0, left: 0, opacity: 0.5 });
    const plain = base(3);
    const i = (15 * W + 25) * 3; // the disc's centre, alpha 255 there
    expect(half.data[i]).toBeCloseTo((230 + plain.data[i]) / 2, -0.5);
    expect(drawOver(base(3), overlay(), { opacity: 0 }).data).toEqual(plain.data);
  });
});
