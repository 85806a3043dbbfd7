import { describe, expect, it } from "vitest";
import { canonicalTransform, parseFlexibleOptions, transformFingerprint, transformOfVariant } from "../../workers/shared/transform.ts";
import { NO_FILTERS } from "../../workers/shared/filter-options.ts";
import { planGeometry } from "../../workers/shared/geometry.ts";
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
    expect(refused("g=middle")).toBe(`gravity must be one of auto, center, left, right, top, bottom or XxY with fractions from 0 to 1, got "middle"`);
  });

  it("centres by default, the same transform and key as gravity=center", async () => {
    expect(parseFlexibleOptions("w=100")).toMatchObject({ gravity: "center" });
    expect(await fingerprint("w=100,fit=cover,g=center")).toBe(await fingerprint("w=100,fit=cover"));
  });
});

describe("the rest of Cloudflare's option set, validated once into the transform", () => {
  it("fit=squeeze is a fit of its own", () => {
    expect(parseFlexibleOptions("w=100,h=50,fit=squeeze")).toMatchObject({ fit: "squeeze", width: 100, height: 50 });
  });

  it("quality takes 1–100 or high, medium-high, medium-low, low (mapped to 90, 80, 65, 50)", () => {
    expect(["high", "medium-high", "medium-low", "low"].map((q) => parseFlexibleOptions(`q=${q}`).quality)).toEqual([90, 80, 65, 50]);
    expect(parseFlexibleOptions("quality=42").quality).toBe(42);
    for (const bad of ["0", "101", "medium", "HIGH", "8.5"]) {
      expect(refused(`q=${bad}`), bad).toBe(`quality must be an integer from 1 to 100 in decimal digits or one of high, medium-high, medium-low, low, got ${JSON.stringify(bad)}`);
    }
  });

  it("trim takes top;right;bottom;left or trim.top/left/width/height in pixels, scaled by dpr", () => {
    expect(parseFlexibleOptions("trim=1;2;3;4").trim).toEqual({ top: 1, right: 2, bottom: 3, left: 4 });
    expect(parseFlexibleOptions("trim.left=10,trim.top=5,trim.width=100,trim.height=50").trim).toEqual({ top: 5, right: 0, bottom: 0, left: 10, width: 100, height: 50 });
    expect(parseFlexibleOptions("trim=1;2;3;4,dpr=2").trim).toEqual({ top: 2, right: 4, bottom: 6, left: 8 });
    expect(parseFlexibleOptions("trim=0;0;0;0").trim).toBeUndefined();
    expect(refused("trim=1;2;3")).toBe('trim must be top;right;bottom;left in pixels (like 20;0;20;0) or border, got "1;2;3"');
    expect(refused("trim=1;2;x;4")).toBe('trim bottom must be an integer from 0 to 100000 pixels, got "x"');
    expect(refused("trim=1;2;3;4,trim.top=9")).toBe("trim.top sets the top trim, which another trim option already set");
    expect(refused("trim.width=0")).toBe('trim.width must be at least 1 pixel, got "0"');
    expect(refused("trim.depth=3")).toBe('unknown flexible variant option "trim.depth"');
  });

  it("trim=border takes trim.border.color, trim.border.tolerance (0–255) and trim.border.keep; no pixel trims beside it", () => {
    expect(parseFlexibleOptions("trim=border").trimBorder).toEqual({ tolerance: 245, keep: 0 });
    expect(parseFlexibleOptions("trim.border.color=%23ffffff,trim.border.tolerance=200,trim.border.keep=3,dpr=2").trimBorder)
      .toEqual({ color: [255, 255, 255, 255], tolerance: 200, keep: 6 });
    expect(refused("trim.border.tolerance=256")).toBe('trim.border.tolerance must be an integer from 0 (any colour matches) to 255 (only the exact colour), got "256"');
    expect(refused("trim=border,trim.left=3")).toMatch(/^trim=border finds the sides to cut itself/);
    expect(refused("trim=border,format=json")).toMatch(/^format=json cannot answer for trim=border/);
    expect(refused("trim.border.size=3")).toBe('unknown flexible variant option "trim.border.size"');
  });

  it("border takes color;width or border.color with border.width or per-side widths, scaled by dpr", () => {
    expect(parseFlexibleOptions("border=%23ff0000;4").border).toEqual({ color: [255, 0, 0, 255], top: 4, right: 4, bottom: 4, left: 4 });
    expect(parseFlexibleOptions("border.color=rgba(0%2C0%2C255%2C0.5),border.width=2,border.left=6").border).toEqual({ color: [0, 0, 255, 128], top: 2, right: 2, bottom: 2, left: 6 });
    expect(parseFlexibleOptions("border.top=3").border).toEqual({ color: [0, 0, 0, 255], top: 3, right: 0, bottom: 0, left: 0 });
    expect(parseFlexibleOptions("border=%23000;5,dpr=2").border).toMatchObject({ top: 10, left: 10 });
    expect(refused("border=%23000")).toBe('border must be color;width (like #000000;10), got "#000"');
    expect(refused("border=%23000;1001")).toBe('border width must be an integer from 0 to 1000 pixels, got "1001"');
    expect(refused("border.color=%23000")).toBe("border.color needs a width: border.width or border.top, border.right, border.bottom, border.left");
    expect(refused("border.color=blue,border.width=1")).toMatch(/^border.color must be a color like #ffffff/);
  });

  it("compression takes fast; format takes baseline-jpeg (our JPEG is baseline already) and json", () => {
    expect(parseFlexibleOptions("compression=fast").compression).toBe("fast");
    expect(refused("compression=slow")).toBe('compression must be fast, got "slow"');
    expect(parseFlexibleOptions("f=baseline-jpeg").format).toBe("jpeg");
    expect(parseFlexibleOptions("format=json").format).toBe("json");
    expect(refused("f=gif")).toBe('format must be one of auto, svg, avif, webp, jpeg, png, baseline-jpeg, json, got "gif"');
  });

  it("zoom is checked against 0–1, then refused unless it is its default: it applies only to gravity=face", () => {
    expect(parseFlexibleOptions("zoom=0")).toEqual(parseFlexibleOptions(""));
    expect(refused("zoom=1.5")).toBe('zoom must be a decimal number from 0 to 1, got "1.5"');
    expect(refused("face-zoom=0.3")).toMatch(/^zoom=0.3 crops toward faces with gravity=face, which is not supported/);
    expect(refused("g=face")).toMatch(/^gravity=face \(face detection\) is not supported/);
  });
});

describe("the fingerprint covers the new options", () => {
  it("gives different transforms different fingerprints", async () => {
    const segments = [
      "w=100,h=100", "w=100,h=100,fit=squeeze", "w=100,h=100,fit=cover,g=0.25x0.5", "w=100,h=100,fit=cover,g=left",
      "w=100,trim=1;0;0;0", "w=100,trim=0;1;0;0", "w=100,trim=0;0;1;0", "w=100,trim=0;0;0;1", "w=100,trim.width=50", "w=100,trim.height=50",
      "w=100,border=%23000;1", "w=100,border=%23001;1", "w=100,border.top=1", "w=100,border.left=1", "w=100,border=rgba(0%2C0%2C0%2C0.5);1",
      "w=100,compression=fast", "w=100,q=low", "w=100,q=high",
      "w=100,trim=border", "w=100,trim.border.color=%23fff", "w=100,trim.border.tolerance=100", "w=100,trim.border.keep=2",
    ];
    const prints = await Promise.all(segments.map(fingerprint));
    expect(new Set(prints).size).toBe(segments.length);
  });

  it("gives equal transforms the same fingerprint, however they are written (a quality level is the number it maps to)", async () => {
    expect(await fingerprint("w=100,q=high")).toBe(await fingerprint("w=100,q=90"));
    expect(await fingerprint("w=100,border=%23000000;2")).toBe(await fingerprint("border.width=2,border.color=%23000,w=100"));
    expect(await fingerprint("w=100,trim=2;0;0;3")).toBe(await fingerprint("trim.left=3,trim.top=2,w=100"));
    expect(await fingerprint("w=100,f=baseline-jpeg")).toBe(await fingerprint("w=100,f=jpeg"));
    expect(await fingerprint("w=100,zoom=0,trim=0;0;0;0,border.width=0")).toBe(await fingerprint("w=100"));
  });

  it("keeps the keys of transforms that use none of them, and gives a named variant's extras their own key", async () => {
    const variant = { fit: "cover" as const, width: 300, height: 200, metadata: "none" as const };
    expect(canonicalTransform(transformOfVariant({ ...variant, extra: {} }))).toBe("w=300,h=200,fit=cover,q=85,g=auto,m=none,bg=255.255.255");
    expect(await transformFingerprint(transformOfVariant({ ...variant, extra: { rotate: 90 } })))
      .toBe(await transformFingerprint(parseFlexibleOptions("w=300,h=200,fit=cover,rotate=90,q=85,metadata=none")));
  });
});

describe("gravity XxY places the crop as Cloudflare does", () => {
  it("puts the point at the same fractions of the crop and of the image (900×900 to 300×900 at 0.33x0.5: left 198)", () => {
    const g = planGeometry({ width: 900, height: 900 }, parseFlexibleOptions("w=300,h=900,fit=cover,g=0.33x0.5"));
    expect(g.crop).toEqual({ left: 198, top: 0, width: 300, height: 900 });
    expect(planGeometry({ width: 900, height: 900 }, parseFlexibleOptions("w=300,h=900,fit=cover,g=1x0")).crop).toMatchObject({ left: 600 });
    expect(planGeometry({ width: 900, height: 900 }, parseFlexibleOptions("w=300,h=900,fit=cover,g=left")).crop).toMatchObject({ left: 0 });
  });

  it("takes a text of its own in the fingerprint, since its placement changed", () => {
    expect(canonicalTransform(parseFlexibleOptions("w=300,h=900,fit=cover,g=0.33x0.5"))).toContain("g=at:0.33x0.5");
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
