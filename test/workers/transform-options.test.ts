import { describe, expect, it } from "vitest";
import { canonicalTransform, parseFlexibleOptions, transformFingerprint, transformOfVariant } from "../../workers/shared/transform.ts";
import { NO_FILTERS } from "../../workers/shared/filter-options.ts";
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
  it("takes auto (a saliency crop), a transform and key of its own, not the centre's", async () => {
    expect(parseFlexibleOptions("w=100,h=100,fit=cover,gravity=auto")).toMatchObject({ gravity: "auto" });
    expect(canonicalTransform(parseFlexibleOptions("w=100,h=100,fit=cover,g=auto"))).toContain(",g=attention,");
    expect(await fingerprint("w=100,h=100,fit=cover,g=auto")).not.toBe(await fingerprint("w=100,h=100,fit=cover"));
    expect(await fingerprint("w=100,h=100,fit=cover,g=auto")).toBe(await fingerprint("fit=cover,gravity=auto,h=100,w=100"));
  });

  it("refuses an unknown gravity, naming what it takes", () => {
    expect(refused("g=face")).toBe(`gravity must be one of auto, center, left, right, top, bottom or XxY with fractions from 0 to 1, got "face"`);
  });

  it("centres by default, the same transform and key as gravity=center", async () => {
    expect(parseFlexibleOptions("w=100")).toMatchObject({ gravity: "center" });
    expect(await fingerprint("w=100,fit=cover,g=center")).toBe(await fingerprint("w=100,fit=cover"));
  });
});

describe("Cloudflare's filters: blur, sharpen, brightness, contrast, gamma, saturation", () => {
  it("blur takes a radius from 1 to 250, decimals allowed, 0 for none", () => {
    expect(parseFlexibleOptions("blur=1").filters.blur).toBe(1);
    expect(parseFlexibleOptions("blur=250").filters.blur).toBe(250);
    expect(parseFlexibleOptions("blur=12.5").filters.blur).toBe(12.5);
    expect(parseFlexibleOptions("blur=0").filters).toEqual(NO_FILTERS);
    for (const bad of ["0.5", "251", "-1", "1e2", "", "soft", "%205"]) {
      expect(refused(`blur=${bad}`), bad).toBe(`blur must be 0 (none) or a radius from 1 to 250, in decimal digits, got ${JSON.stringify(decodeURIComponent(bad))}`);
    }
  });

  it("sharpen takes a strength from 0 to 10", () => {
    expect(parseFlexibleOptions("sharpen=1").filters.sharpen).toBe(1);
    expect(parseFlexibleOptions("sharpen=10").filters.sharpen).toBe(10);
    expect(parseFlexibleOptions("sharpen=0.25").filters.sharpen).toBe(0.25);
    for (const bad of ["10.5", "11", "-1", "max"]) {
      expect(refused(`sharpen=${bad}`), bad).toBe(`sharpen must be a strength from 0 (none) to 10, in decimal digits, got ${JSON.stringify(bad)}`);
    }
  });

  it.each(["brightness", "contrast", "gamma"] as const)("%s takes a factor above 0 up to 10, and ignores 0 as Cloudflare does", (name) => {
    expect(parseFlexibleOptions(`${name}=0.5`).filters[name]).toBe(0.5);
    expect(parseFlexibleOptions(`${name}=10`).filters[name]).toBe(10);
    expect(parseFlexibleOptions(`${name}=0`).filters[name]).toBe(1);
    expect(parseFlexibleOptions(`${name}=0.0`).filters).toEqual(NO_FILTERS);
    for (const bad of ["10.01", "-0.5", ".5", "2x", ""]) {
      expect(refused(`${name}=${bad}`), bad).toBe(`${name} must be a factor above 0 and at most 10 (1 = no change; 0 is ignored), in decimal digits, got ${JSON.stringify(bad)}`);
    }
  });

  it("saturation takes a factor from 0 (greyscale) to 10", () => {
    expect(parseFlexibleOptions("saturation=0").filters.saturation).toBe(0);
    expect(parseFlexibleOptions("saturation=2").filters.saturation).toBe(2);
    for (const bad of ["11", "-1", "grey"]) {
      expect(refused(`saturation=${bad}`), bad).toBe(`saturation must be a factor from 0 (greyscale) to 10 (1 = no change), in decimal digits, got ${JSON.stringify(bad)}`);
    }
  });

  it("refuses a filter given twice", () => {
    expect(refused("blur=5,blur=6")).toBe("flexible variant option blur is given twice");
  });

  it("gives every different filter value its own fingerprint", async () => {
    const segments = [
      "w=100", "w=100,blur=1", "w=100,blur=5", "w=100,blur=5.5", "w=100,blur=250", "w=100,sharpen=1", "w=100,sharpen=5",
      "w=100,brightness=0.5", "w=100,brightness=2", "w=100,contrast=0.5", "w=100,contrast=2", "w=100,gamma=0.5", "w=100,gamma=2",
      "w=100,saturation=0", "w=100,saturation=0.5", "w=100,saturation=2", "w=100,blur=5,sharpen=1", "w=100,brightness=2,contrast=2",
      // The same number under two names is two transforms.
      "w=100,contrast=1.5", "w=100,gamma=1.5", "w=100,brightness=1.5", "w=100,saturation=1.5",
    ];
    const prints = await Promise.all(segments.map(fingerprint));
    expect(new Set(prints).size).toBe(segments.length);
  });

  it("gives equal filter values one fingerprint, however they are written", async () => {
    expect(await fingerprint("w=100,blur=5")).toBe(await fingerprint("w=100,blur=5.0"));
    expect(await fingerprint("w=100,blur=05")).toBe(await fingerprint("w=100,blur=5.000"));
    expect(await fingerprint("w=100,sharpen=2,blur=5")).toBe(await fingerprint("blur=5,w=100,sharpen=2.0"));
    // At its default a filter is no filter: the key stays the one stored before filters existed.
    for (const none of ["blur=0", "sharpen=0", "brightness=1", "brightness=0", "contrast=1.0", "contrast=0", "gamma=1", "gamma=0", "saturation=1"]) {
      expect(await fingerprint(`w=100,${none}`), none).toBe(await fingerprint("w=100"));
    }
    expect(canonicalTransform(parseFlexibleOptions("w=100,blur=0,saturation=1"))).toBe("w=100,h=,fit=scale-down,q=85,g=auto,m=none,bg=255.255.255");
  });
});
