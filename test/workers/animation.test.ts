import { describe, expect, it } from "vitest";
import { readAnimation } from "../../wasm/src/animation/index.ts";
import { parseFlexibleOptions, transformFingerprint } from "../../workers/shared/transform.ts";
import { negotiateFormat } from "../../workers/gateway/delivery/negotiate.ts";
import { API, AUTH, deliver, fileForm, gatewayWith, json, upload, waitForStatus } from "./helpers.ts";

const BROWSER_ACCEPT = "image/avif,image/webp,image/apng,image/*,*/*;q=0.8";

describe("animation kept through upload, queue and delivery", () => {
  it("an animated GIF is delivered as an animated WebP for Accept: image/webp, with its frames and their delays", async () => {
    await json(await upload("movingGif", { id: "animated" }));
    await waitForStatus("animated", ["ready"]);
    for (const accept of ["image/webp", BROWSER_ACCEPT]) {
      const { response, bytes } = await deliver("animated/w=80", { accept });
      expect(response.headers.get("content-type")).toBe("image/webp");
      expect(readAnimation(bytes, "webp")).toEqual({ width: 80, height: 60, frameCount: 4, loop: 0 });
    }
    // The named variant's eager WebP keeps it too.
    expect(readAnimation((await deliver("animated/public", { accept: "image/webp" })).bytes, "webp")?.frameCount).toBe(4);
  });

  it("anim=false gives the first frame as a still", async () => {
    await json(await upload("movingGif", { id: "animated-still" }));
    await waitForStatus("animated-still", ["ready"]);
    const { response, bytes } = await deliver("animated-still/w=80,anim=false", { accept: "image/webp" });
    expect(response.headers.get("content-type")).toBe("image/webp");
    expect(readAnimation(bytes, "webp")).toBeUndefined();
  });

  it("an upload whose frames sum to more than MAX_ANIMATION_PIXELS is refused with 413 naming it", async () => {
    // 4 frames of 160×120 = 76 800 px in all.
    const response = await gatewayWith({ MAX_ANIMATION_PIXELS: "50000" }, `${API}/v1`, { method: "POST", headers: AUTH, body: fileForm("movingGif") });
    expect(response.status).toBe(413);
    expect((await response.json() as { errors: Array<{ message: string }> }).errors[0].message).toMatch(/4 frames of 160×120 are 76800 pixels in all; the limit is 50000 pixels \(MAX_ANIMATION_PIXELS\)/);
    const frames = await gatewayWith({ MAX_ANIMATION_FRAMES: "3" }, `${API}/v1`, { method: "POST", headers: AUTH, body: fileForm("movingGif") });
    expect(frames.status).toBe(413);
    expect((await frames.json() as { errors: Array<{ message: string }> }).errors[0].message).toMatch(/MAX_ANIMATION_FRAMES/);
  });
});

describe("the anim option", () => {
  it("is on by default and part of the fingerprint only when off (older fingerprints stay)", async () => {
    const plain = parseFlexibleOptions("w=80");
    expect(plain.anim).toBe(true);
    expect(await transformFingerprint(parseFlexibleOptions("w=80,anim=true"))).toBe(await transformFingerprint(plain));
    expect(await transformFingerprint(parseFlexibleOptions("w=80,anim=false"))).not.toBe(await transformFingerprint(plain));
    expect(() => parseFlexibleOptions("anim=0")).toThrow(/anim must be true or false, got "0"/);
  });

  it("an animation is never negotiated to AVIF", () => {
    const image = { hasAlpha: false, outputWidth: 80, outputHeight: 60 };
    expect(negotiateFormat("auto", BROWSER_ACCEPT, image)).toBe("avif");
    expect(negotiateFormat("auto", BROWSER_ACCEPT, { ...image, animated: true })).toBe("webp");
  });
});
