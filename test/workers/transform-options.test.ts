import { describe, expect, it } from "vitest";
import { canonicalTransform, parseFlexibleOptions, transformFingerprint, transformOfVariant } from "../../workers/shared/transform.ts";
import { refusal } from "./helpers.ts";

/** The 400 a flexible-options segment is refused with. */
function refused(rawSegment: string) {
  const error = refusal(() => parseFlexibleOptions(rawSegment));
  expect(error.status).toBe(400);
  return error.message;
}

const fingerprint = (segment: string) => transformFingerprint(parseFlexibleOptions(segment));

describe("Cloudflare's transform options in flexible variants", () => {
  it("rotate takes 90, 180 or 270 degrees clockwise (0 is no rotation); other values are refused by name", () => {
    expect(parseFlexibleOptions("rotate=90")).toMatchObject({ rotate: 90 });
    expect(parseFlexibleOptions("rotate=270")).toMatchObject({ rotate: 270 });
    expect(parseFlexibleOptions("rotate=0")).toMatchObject({ rotate: 0 });
    for (const bad of ["45", "-90", "360", "90.0", "", "ninety"]) {
      expect(refused(`rotate=${bad}`), bad).toBe(`rotate must be one of 0, 90, 180, 270 (degrees clockwise), got ${JSON.stringify(bad)}`);
    }
  });

  it("flip takes h, v or hv", () => {
    expect(parseFlexibleOptions("flip=h")).toMatchObject({ flip: "h" });
    expect(parseFlexibleOptions("flip=hv")).toMatchObject({ flip: "hv" });
    for (const bad of ["none", "x", "vh", "H", ""]) expect(refused(`flip=${bad}`), bad).toBe(`flip must be one of h, v, hv, got ${JSON.stringify(bad)}`);
  });
});

describe("the render fingerprint covers every option", () => {
  it("gives different transforms different fingerprints", async () => {
    const segments = ["w=100", "w=100,rotate=90", "w=100,rotate=180", "w=100,rotate=270", "w=100,flip=h", "w=100,flip=v", "w=100,flip=hv", "w=100,flip=h,rotate=90"];
    const prints = await Promise.all(segments.map(fingerprint));
    expect(new Set(prints).size).toBe(segments.length);
  });

  it("gives equal transforms the same fingerprint, however they are written", async () => {
    expect(await fingerprint("w=100,rotate=90,flip=h")).toBe(await fingerprint("flip=h,width=100,rotate=90"));
    expect(await fingerprint("w=100,rotate=0")).toBe(await fingerprint("w=100"));
  });

  it("keeps the keys of renditions stored before the new options existed", () => {
    // The text every stored rendition of a named variant was keyed by, before rotate and flip.
    expect(canonicalTransform(transformOfVariant({ fit: "cover", width: 300, height: 200, metadata: "none" })))
      .toBe("w=300,h=200,fit=cover,q=85,g=auto,m=none,bg=255.255.255");
  });
});

describe("gravity", () => {
  it("refuses auto (a saliency crop) by name instead of silently centring", () => {
    expect(refused("w=100,h=100,fit=cover,gravity=auto")).toMatch(/^gravity=auto \(a saliency crop\) is not supported yet; use one of center, left, right, top, bottom or XxY/);
    expect(refused("g=auto")).toMatch(/^gravity=auto/);
  });

  it("centres by default, the same transform and key as gravity=center", async () => {
    expect(parseFlexibleOptions("w=100")).toMatchObject({ gravity: "center" });
    expect(await fingerprint("w=100,fit=cover,g=center")).toBe(await fingerprint("w=100,fit=cover"));
  });
});
