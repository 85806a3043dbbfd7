import { SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { AVIF_MAX_SIDE, METADATA_MODES, OUTPUT_FORMATS, parseFlexibleOptions, parseVariantOptions } from "../../workers/shared/transform.ts";
import * as engineVocabulary from "../../wasm/src/vocabulary.ts";
import { DELIVERY, refusal } from "./helpers.ts";

/** The 400 a flexible-options segment (raw, as it came over the wire) is refused with. */
function refused(rawSegment: string) {
  const error = refusal(() => parseFlexibleOptions(rawSegment));
  expect(error.status).toBe(400);
  return error.message;
}

describe("flexible variant options", () => {
  it("reads Cloudflare's syntax with its short names into a defaulted transform", () => {
    expect(parseFlexibleOptions("w=400,h=300,fit=cover,f=webp,q=75,g=0.5x0.25,bg=%23102030,metadata=keep")).toEqual({
      width: 400,
      height: 300,
      fit: "cover",
      format: "webp",
      quality: 75,
      gravity: { x: 0.5, y: 0.25 },
      background: [16, 32, 48],
      metadata: "keep",
      flip: "none",
      rotate: 0,
      anim: true,
      filters: engineVocabulary.NO_FILTERS,
    });
    expect(parseFlexibleOptions("width=10")).toMatchObject({ width: 10, fit: "scale-down", quality: 85, format: "auto" });
  });

  it("takes widths, heights and qualities in decimal digits only, naming the option", () => {
    for (const text of ["%2012%20", "+12", "-1", "0x10", "1e3", "12.0", "12.5", "", "%D9%A1%D9%A2", "Infinity", "12px"]) {
      expect(refused(`w=${text}`), text).toMatch(/^width must be an integer from 1 to 12000 in decimal digits/);
      expect(refused(`h=${text}`), text).toMatch(/^height must be/);
      expect(refused(`q=${text}`), text).toMatch(/^quality must be an integer from 1 to 100/);
    }
    expect(refused("w=0")).toContain("width");
    expect(refused("w=12001")).toContain("width");
    expect(refused("w=99999999999999999999999")).toContain("width");
    expect(refused("q=101")).toContain("quality");
    expect(parseFlexibleOptions("w=012,q=100")).toMatchObject({ width: 12, quality: 100 });
  });

  it("takes dpr as a plain decimal number above 0 and at most 10, and multiplies the size by it", () => {
    expect(parseFlexibleOptions("w=100,h=50,dpr=1.5")).toMatchObject({ width: 150, height: 75 });
    expect(parseFlexibleOptions("w=100,dpr=10")).toMatchObject({ width: 1000 });
    expect(parseFlexibleOptions("w=5000,dpr=3")).toMatchObject({ width: 12000 });
    for (const text of ["0", "0.0", "10.5", "11", "1e0", ".5", "1.", "-1", "0x2", "Infinity", "NaN", "%202"]) {
      expect(refused(`w=100,dpr=${text}`), text).toMatch(/^dpr must be a decimal number above 0 and at most 10/);
    }
  });

  it("refuses a malformed percent-escape with 400, naming the option", () => {
    for (const segment of ["w=%ZZ", "w=%", "w=1%", "fit=%E0%A4%A", "f=%C3", "%ZZ=1", "w=100,bg=%GG0000"]) {
      const message = refused(segment);
      expect(message, segment).toContain("malformed percent-escape");
      expect(message, segment).toContain(segment.split(",").at(-1)!.slice(0, 3));
    }
  });

  it("decodes each name and value exactly once", () => {
    // %25 is a literal %: what arrives as %2531%2530%2530 means the text "%31%30%30", which is no width.
    expect(refused("w=%2531%2530%2530")).toContain('"%31%30%30"');
    expect(parseFlexibleOptions("w=%31%30%30")).toMatchObject({ width: 100 });
    expect(parseFlexibleOptions("%77=100")).toMatchObject({ width: 100 });
    // Options are split on the commas of the raw segment, so an escaped comma belongs to its value.
    expect(parseFlexibleOptions("bg=rgb(1%2C2%2C3),w=5")).toMatchObject({ background: [1, 2, 3], width: 5 });
    expect(refused("fit=cover%2Cw%3D5")).toContain('"cover,w=5"');
  });

  it("refuses unknown, repeated and nameless options, naming them", () => {
    expect(refused("sepia=2")).toBe('unknown flexible variant option "sepia"');
    expect(refused("constructor=1")).toBe('unknown flexible variant option "constructor"');
    expect(refused("__proto__=1")).toBe('unknown flexible variant option "__proto__"');
    expect(refused("w=1,width=2")).toBe("flexible variant option width is given twice");
    expect(refused("=5")).toContain("must be name=value");
    expect(refused("w")).toContain("must be name=value");
  });

  it("quotes a huge value only in part", () => {
    expect(refused(`fit=${"x".repeat(10_000)}`).length).toBeLessThan(200);
  });
});

describe("variant definitions", () => {
  const options = { fit: "cover", width: 100, height: 50, metadata: "none" };

  it("takes dimensions as JSON integers or decimal-digit text", () => {
    expect(parseVariantOptions(options)).toMatchObject({ width: 100, height: 50 });
    expect(parseVariantOptions({ ...options, width: "120" })).toMatchObject({ width: 120 });
  });

  it("refuses dimensions in any other form, naming the option", () => {
    for (const width of [" 12 ", "0x10", "1e3", "12.5", 12.5, -3, 0, true, "", null]) {
      const error = refusal(() => parseVariantOptions({ ...options, width }));
      expect(error.message, String(width)).toMatch(/^options\.width (must be an integer|is required)/);
    }
  });
});

describe("flexible options through delivery", () => {
  // Fails until the delivery route hands parseFlexibleOptions the raw segment: Hono's c.req.param() decodes it
  // first, so `%2531%2530%2530` reaches the parser as `%31%30%30` and is decoded a second time into w=100
  // (here: a 404 for the missing image instead of the 400 for the width).
  it("decodes a percent-escape in the URL once", async () => {
    const response = await SELF.fetch(`${DELIVERY}/no-such-image/w=%2531%2530%2530`);
    expect(response.status).toBe(400);
  });
});

describe("the vocabulary shared with the engine", () => {
  it("validates output formats, metadata modes and the AVIF size against the engine's own definitions", () => {
    // One definition (wasm/src/vocabulary.ts): a format the engine learns is one requests may ask for.
    expect(OUTPUT_FORMATS).toBe(engineVocabulary.OUTPUT_FORMATS);
    expect(METADATA_MODES).toBe(engineVocabulary.METADATA_MODES);
    expect(AVIF_MAX_SIDE).toBe(engineVocabulary.AVIF_MAX_DIMENSION);
  });
});
