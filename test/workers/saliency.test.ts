import { describe, expect, it } from "vitest";
import { renditionCacheKey } from "../../workers/gateway/delivery/cache.ts";
import { imageStorageId } from "../../workers/shared/storage.ts";
import { parseFlexibleOptions, transformFingerprint } from "../../workers/shared/transform.ts";
import { coordinator, deliver, eventually, json, upload, waitForStatus } from "./helpers.ts";

describe("gravity=auto through a delivery URL", () => {
  it("crops to the subject where the centre crop shows only background, cached under its own key", async () => {
    // subjectAtLeftEdgePng: 600×200 flat grey, the subject within the 200 px at the left edge.
    await json(await upload("subjectAtLeftEdgePng", { id: "salient" }));
    await waitForStatus("salient", ["ready"]);
    const auto = await deliver("salient/fit=cover,w=200,h=200,g=auto,f=png");
    const centre = await deliver("salient/fit=cover,w=200,h=200,g=center,f=png");
    const left = await deliver("salient/fit=cover,w=200,h=200,g=left,f=png");
    expect(auto.response.status).toBe(200);
    expect(auto.header).toMatchObject({ format: "png", width: 200, height: 200 });
    // The attention crop is the left-edge window, pixel for pixel, and not the centre's.
    expect(auto.bytes).toEqual(left.bytes);
    expect(auto.bytes).not.toEqual(centre.bytes);

    const again = await deliver("salient/gravity=auto,w=200,h=200,fit=cover,f=png");
    expect(again.response.headers.get("x-image-source")).toBe("HIT");
    expect(again.bytes).toEqual(auto.bytes);

    const { life } = await coordinator("salient").snapshot();
    const image = { storageId: await imageStorageId("salient"), life };
    const [autoKey, centreKey] = await Promise.all(
      ["fit=cover,w=200,h=200,g=auto", "fit=cover,w=200,h=200"].map(async (o) => renditionCacheKey(image, await transformFingerprint(parseFlexibleOptions(o)), "png")),
    );
    expect(autoKey).not.toBe(centreKey);
    const cache = await caches.open("renditions");
    await eventually(async () => {
      expect(new Uint8Array(await (await cache.match(autoKey))!.arrayBuffer())).toEqual(auto.bytes);
      expect(new Uint8Array(await (await cache.match(centreKey))!.arrayBuffer())).toEqual(centre.bytes);
    });
  });
});
