import { describe, expect, it } from "vitest";
import { unzlibSync } from "fflate";
import { deltaE } from "../wasm/icc-fixtures.ts";
import { deliver, fixture, json, upload, waitForStatus } from "./helpers.ts";

/** RGB of an 8-bit, non-interlaced RGB or RGBA PNG (what our encoder and sharp write), and whether it has an iCCP chunk. */
function readPng(png: Uint8Array): { rgb: Uint8Array; width: number; height: number; iccp: boolean } {
  const v = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const width = v.getUint32(16), height = v.getUint32(20), channels = png[25] === 6 ? 4 : 3;
  const idat: Uint8Array[] = [];
  let iccp = false;
  for (let p = 8; p + 8 <= png.length;) {
    const len = v.getUint32(p), type = String.fromCharCode(...png.subarray(p + 4, p + 8));
    if (type === "IDAT") idat.push(png.subarray(p + 8, p + 8 + len));
    if (type === "iCCP") iccp = true;
    p += 12 + len;
  }
  const data = unzlibSync(new Uint8Array(idat.flatMap((c) => [...c])));
  const stride = width * channels, rows = new Uint8Array(height * stride), rgb = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const filter = data[y * (stride + 1)];
    for (let x = 0; x < stride; x++) {
      const raw = data[y * (stride + 1) + 1 + x];
      const a = x >= channels ? rows[y * stride + x - channels] : 0, b = y > 0 ? rows[(y - 1) * stride + x] : 0;
      const c = x >= channels && y > 0 ? rows[(y - 1) * stride + x - channels] : 0;
      const pa = Math.abs(b - c), pb = Math.abs(a - c), pc = Math.abs(a + b - 2 * c);
      const predictor = [0, a, b, (a + b) >> 1, pa <= pb && pa <= pc ? a : pb <= pc ? b : c][filter];
      rows[y * stride + x] = (raw + predictor) & 255;
    }
  }
  for (let i = 0; i < width * height; i++) rgb.set(rows.subarray(i * channels, i * channels + 3), i * 3);
  return { rgb, width, height, iccp };
}

describe("colour management through upload and delivery", () => {
  it("a Display P3 JPEG is delivered in sRGB, as sharp renders it; metadata=keep delivers its P3 values with the profile", async () => {
    await json(await upload("p3Jpeg", { id: "p3" }));
    await waitForStatus("p3", ["ready"]);
    const reference = readPng(fixture("p3JpegSrgbAt64"));

    const converted = await deliver("p3/w=64,h=48,fit=scale-down,f=png,metadata=none");
    const ours = readPng(converted.bytes);
    expect([ours.width, ours.height]).toEqual([64, 48]);
    expect(ours.iccp, "a converted output carries no profile").toBe(false);
    const d = deltaE(ours.rgb, reference.rgb);
    expect(d.mean).toBeLessThan(1.5);

    const kept = readPng((await deliver("p3/w=64,h=48,fit=scale-down,f=png,metadata=keep")).bytes);
    expect(kept.iccp).toBe(true);
    // Its stored values are P3's: read as if sRGB they are visibly off, which is what conversion fixes.
    expect(deltaE(kept.rgb, reference.rgb).mean).toBeGreaterThan(d.mean + 2);
  });

  it("a CMYK JPEG with an embedded CMYK profile is delivered in sRGB through the profile, as sharp renders it", async () => {
    await json(await upload("cmykTaggedJpeg", { id: "cmyk-tagged" }));
    await waitForStatus("cmyk-tagged", ["ready"]);
    const reference = readPng(fixture("cmykTaggedJpegSrgbAt64"));
    // metadata=keep too: a CMYK profile cannot describe the RGB output, so it is converted all the same.
    for (const metadata of ["none", "keep"]) {
      const ours = readPng((await deliver(`cmyk-tagged/w=64,h=48,fit=scale-down,f=png,metadata=${metadata}`)).bytes);
      expect([ours.width, ours.height]).toEqual([64, 48]);
      expect(ours.iccp, metadata).toBe(false);
      // test/wasm/cmyk.test.ts: ~1.2 mean on a downscaled photo; the naive conversion is far off (checked there).
      expect(deltaE(ours.rgb, reference.rgb).mean, metadata).toBeLessThan(3.5);
    }
  });
});
