import sharp from "sharp";
import { beforeAll, describe, expect, it } from "vitest";
import { renderTargets, type EngineModules } from "../../wasm/src/engine.ts";
import { FORMATS, sniffFormat } from "../../wasm/src/formats/index.ts";
import { SVG_DEFAULT_SIZE, SVG_MAX_RASTER_PIXELS, intrinsicSize } from "../../wasm/src/formats/svg.ts";
import { loadEngineModules } from "../../wasm/src/modules.node.ts";
import { probeImage } from "../../wasm/src/probe.ts";
import { MAX_SVG_DEPTH, sanitiseSvg } from "../../wasm/src/svg-sanitise.ts";
import { instantiateResvg } from "../../wasm/src/codecs/resvg.ts";
import { rasterSvg } from "../../wasm/src/svg-raster.ts";
import { CodecError } from "../../wasm/src/errors.ts";
import { expectCodecError, psnr } from "./measure.ts";
import { rgbOnWhite } from "./fixtures.ts";
import { pngHeaderOnly } from "../fixtures/images.ts";

const LIMITS = { maxBytes: 1024 * 1024 };
const NS = 'xmlns="http://www.w3.org/2000/svg"';
const bytes = (text: string) => new TextEncoder().encode(text);
const sanitised = (text: string) => new TextDecoder().decode(sanitiseSvg(bytes(text), LIMITS));
const svgOf = (body: string, attributes = 'width="100" height="100"') => `<svg ${NS} ${attributes}>${body}</svg>`;

let modules: EngineModules;
beforeAll(async () => {
  modules = await loadEngineModules();
});

describe("sanitising an SVG", () => {
  // The hostile corpus: each case is what an attacker would upload, and a fragment that must not survive.
  const hostile: Array<[string, string, RegExp]> = [
    ["a script element", svgOf('<script>alert(1)</script><rect width="10" height="10"/>'), /script|alert/i],
    ["a script in CDATA", svgOf("<script><![CDATA[alert(1)]]></script>"), /script|alert/i],
    ["an onload handler on the root", `<svg ${NS} onload="alert(1)"/>`, /onload|alert/i],
    ["event handlers on shapes", svgOf('<rect onclick="alert(1)" onmouseover="alert(2)" width="1" height="1"/>'), /on\w+=|alert/i],
    ["a javascript: link", svgOf('<a href="javascript:alert(1)"><rect width="5" height="5"/></a>'), /javascript|href/i],
    ["a javascript: link obfuscated with entities", svgOf('<a xlink:href="&#106;avascript&#x3A;alert(1)"><text>x</text></a>'), /javascript|href/i],
    ["a javascript: href with tabs and newlines", svgOf('<use href="jav&#x09;ascript:alert(1)"/>'), /href|javascript/i],
    ["xlink:href to http on an image", svgOf('<image xlink:href="http://evil.example/x.png" width="1" height="1"/>'), /evil|href/i],
    ["a protocol-relative image", svgOf('<image href="//evil.example/x.png" width="1" height="1"/>'), /evil|href/i],
    ["<use> of an external file", svgOf('<use href="https://evil.example/sprite.svg#icon"/>'), /evil|href/i],
    ["<use> of a local file", svgOf('<use xlink:href="file:///etc/passwd#x"/>'), /passwd|href/i],
    ["an SVG data URI in an image", svgOf('<image href="data:image/svg+xml;base64,PHN2Zy8+" width="1" height="1"/>'), /svg\+xml|href/i],
    ["foreignObject with HTML", svgOf('<foreignObject width="9" height="9"><div xmlns="http://www.w3.org/1999/xhtml"><img src="x" onerror="alert(1)"/></div></foreignObject>'), /foreignObject|div|img|onerror/i],
    ["iframe, embed and object", svgOf('<iframe src="https://evil.example"/><embed src="x.swf"/><object data="x.swf"/>'), /iframe|embed|object|evil/i],
    ["animating href", svgOf('<a><set attributeName="href" to="javascript:alert(1)"/><animate attributeName="xlink:href" values="javascript:alert(1)"/></a>'), /set|animate|javascript/i],
    ["animating an event attribute", svgOf('<rect width="1" height="1"><set attributeName="onmouseover" to="alert(1)"/></rect>'), /set|alert/i],
    ["a CSS url() to http in an attribute", svgOf('<rect fill="url(http://evil.example/p.svg#g)" width="1" height="1"/>'), /evil|fill/i],
    ["a CSS url() in a style attribute", svgOf('<rect style="fill:url(\'https://evil.example/#g\');stroke:red" width="1" height="1"/>'), /evil|url/i],
    ["a CSS escape hiding url()", svgOf('<rect style="fill:u\\72l(https://evil.example/)" width="1" height="1"/>'), /evil/i],
    ["@import in <style>", svgOf("<style>@import url(https://evil.example/x.css); rect { fill: red }</style>"), /import|evil/i],
    ["a url() in <style>", svgOf("<style>rect { fill: url(https://evil.example/#g) }</style>"), /evil/i],
    ["an image-set() of a bare URL string in <style>", svgOf('<style>rect { cursor: image-set("https://evil.example/c.png" 1x) }</style>'), /evil/i],
    ["an xml-stylesheet processing instruction", `<?xml-stylesheet href="https://evil.example/x.css"?>${svgOf("")}`, /stylesheet|evil/i],
    ["an HTML namespace redeclared inside", svgOf('<g xmlns="http://www.w3.org/1999/xhtml"><script>alert(1)</script></g>'), /xhtml|script|alert/i],
    ["editor namespaces", svgOf('<sodipodi:namedview xmlns:sodipodi="http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd"/><rect inkscape:label="x" width="1" height="1"/>'), /sodipodi|inkscape/i],
  ];
  for (const [name, input, forbidden] of hostile) {
    it(`removes ${name}`, () => {
      const output = sanitised(input);
      expect(output).not.toMatch(forbidden);
      expect(output).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    });
  }

  it("keeps what a drawing is made of: shapes, gradients, local references, embedded rasters, styles without external references", async () => {
    const dot = (await sharp({ create: { width: 2, height: 2, channels: 3, background: "#f00" } }).png().toBuffer()).toString("base64");
    const input = svgOf(
      '<defs><linearGradient id="g"><stop offset="0" stop-color="#f00"/></linearGradient><path id="p" d="M0 0L10 10"/></defs>' +
      '<style>rect { fill: url(#g) } @media (min-width: 1px) { circle { stroke: blue } }</style>' +
      '<rect width="10" height="10" style="fill:url(#g);stroke-width:2"/><use xlink:href="#p"/><use href="#p"/>' +
      `<image href="data:image/png;base64,${dot}" width="1" height="1"/><a href="#x"><circle r="3"/></a>`,
      'width="100" height="100" xmlns:xlink="http://www.w3.org/1999/xlink"',
    );
    const output = sanitised(input);
    for (const kept of ['<linearGradient id="g">', 'd="M0 0L10 10"', "rect { fill: url(#g) }", 'style="fill:url(#g);stroke-width:2"',
      'xlink:href="#p"', '<use href="#p"/>', `href="data:image/png;base64,${dot}"`, '<circle r="3"/>', 'xmlns:xlink="http://www.w3.org/1999/xlink"']) {
      expect(output).toContain(kept);
    }
    expect(output).not.toContain("<a"); // a link is unwrapped, its content kept
  });

  it("writes well-formed, re-escaped XML that sanitises to itself", () => {
    const output = sanitised(svgOf('<text x="1">a &lt; b &amp;&amp; "c"</text><desc><![CDATA[<b>not markup</b>]]></desc>'));
    expect(output).toContain("a &lt; b &amp;&amp; \"c\"");
    expect(output).toContain("&lt;b&gt;not markup&lt;/b&gt;");
    expect(sanitised(output)).toBe(output);
  });

  it("refuses external entities (XXE), parameter entities and entities built from entities (billion laughs)", () => {
    const xxe = `<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]>${svgOf("<text>&x;</text>")}`;
    expectCodecError(() => sanitiseSvg(bytes(xxe), LIMITS), "unsupported", /external/);
    const parameter = `<!DOCTYPE svg [<!ENTITY % p SYSTEM "https://evil.example/x.dtd"> %p;]>${svgOf("")}`;
    expectCodecError(() => sanitiseSvg(bytes(parameter), LIMITS), "unsupported", /parameter entity/);
    const laughs = `<!DOCTYPE svg [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>${svgOf("<text>&b;</text>")}`;
    expectCodecError(() => sanitiseSvg(bytes(laughs), LIMITS), "unsupported", /refers to other entities/);
    expectCodecError(() => sanitiseSvg(bytes(svgOf("<text>&undefined;</text>")), LIMITS), "corrupt", /not defined/);
  });

  it("expands the plain text entities Illustrator declares, and drops the DOCTYPE", () => {
    const illustrator = `<?xml version="1.0"?><!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd" [
      <!ENTITY ns_svg "http://www.w3.org/2000/svg"><!ENTITY st0 "fill:#FF0000;">]><svg xmlns="&ns_svg;" width="4" height="4"><rect style="&st0;" width="4" height="4"/></svg>`;
    const output = sanitised(illustrator);
    expect(output).toBe(`<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect style="fill:#FF0000" width="4" height="4"/></svg>`);
  });

  it("refuses what is not an SVG document: another root, no SVG namespace, malformed XML, other encodings", () => {
    expectCodecError(() => sanitiseSvg(bytes('<html xmlns="http://www.w3.org/1999/xhtml"/>'), LIMITS), "unsupported", /root element is <html>/);
    expectCodecError(() => sanitiseSvg(bytes('<svg width="1" height="1"/>'), LIMITS), "unsupported", /SVG namespace/);
    expectCodecError(() => sanitiseSvg(bytes(svgOf("<g></rect>")), LIMITS), "corrupt", /<\/rect> closes <g>/);
    expectCodecError(() => sanitiseSvg(bytes(`<svg ${NS} width=1/>`), LIMITS), "corrupt", /not quoted/);
    expectCodecError(() => sanitiseSvg(new Uint8Array([0xff, 0xfe, 0x3c, 0x00]), LIMITS), "corrupt", /UTF-8/);
  });

  it("under random damage to the hostile corpus, either refuses with a CodecError or writes a clean document that sanitises to itself", () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const characters = '<>&;"\' =/:#()x\n';
    let written = 0;
    for (const [, input] of hostile) {
      for (let round = 0; round < 60; round++) {
        const chars = [...input];
        for (let k = 0; k < 1 + Math.floor(random() * 4); k++) {
          const at = Math.floor(random() * chars.length);
          if (random() < 0.5) chars[at] = characters[Math.floor(random() * characters.length)];
          else chars.splice(at, 1);
        }
        let output: string;
        try {
          output = sanitised(chars.join(""));
        } catch (error) {
          expect(error).toBeInstanceOf(CodecError);
          continue;
        }
        written++;
        expect(sanitised(output)).toBe(output);
        // Text may say anything (it is escaped); the markup and the stylesheets may not.
        const tags = (output.match(/<[^>]*>/g) ?? []).join("").replace(/ xmlns(:xlink)?="[^"]*"/g, "");
        expect(tags).not.toMatch(/<script|<foreignObject|\son\w+=|javascript:|https?:|file:/i);
        const stylesheets = [...output.matchAll(/<style[^>]*>([^<]*)<\/style>/g)].map((m) => m[1]).join("");
        expect(stylesheets).not.toMatch(/@import|url\(\s*['"]?(?!#)|image-set\(/i);
      }
    }
    expect(written).toBeGreaterThan(100);
  });

  it("refuses an embedded raster bomb by its header, and drops an embedded image it cannot read", () => {
    const bomb = pngHeaderOnly(20_000, 20_000).toString("base64");
    expectCodecError(() => sanitised(svgOf(`<image href="data:image/png;base64,${bomb}" width="10" height="10"/>`)), "limit", /more than 4 MP in all \(MAX_SVG_EMBEDDED_PIXELS\)/);
    expect(sanitised(svgOf('<image href="data:image/png;base64,AAAA" width="10" height="10"/>'))).toBe(svgOf('<image width="10" height="10"/>'));
  });

  it("bounds the input: MAX_SVG_BYTES, and the nesting depth", () => {
    expectCodecError(() => sanitiseSvg(bytes(svgOf("".padEnd(2000, " "))), { maxBytes: 1000 }), "limit", /limit is 1000 bytes \(MAX_SVG_BYTES\)/);
    const deep = svgOf("<g>".repeat(MAX_SVG_DEPTH + 1) + "</g>".repeat(MAX_SVG_DEPTH + 1));
    expectCodecError(() => sanitiseSvg(bytes(deep), LIMITS), "limit", /nested more than 256 deep/);
  });
});

describe("sniffing and probing an SVG", () => {
  it("sniffs SVG text after a BOM, an XML declaration, comments and a DOCTYPE, and no other text", () => {
    const prolog = '\ufeff<?xml version="1.0" encoding="UTF-8"?>\n<!-- made by hand -->\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "svg11.dtd">\n';
    expect(sniffFormat(bytes(prolog + svgOf("")))).toBe("svg");
    for (const text of ["<html></html>", '<svg width="1"/>', "hello", '<?xml version="1.0"?><rss/>', "<svgx " + NS + "/>"]) {
      expect(sniffFormat(bytes(text)), text).toBeUndefined();
    }
    expectCodecError(() => probeImage(bytes("<html/>")), "unsupported", /expected JPEG, PNG, GIF, WebP, AVIF, HEIC or SVG/);
  });

  it("takes the intrinsic size from width and height in px or absolute units, else the viewBox, else 300×150", () => {
    expect(intrinsicSize("120", "80px")).toEqual({ width: 120, height: 80 });
    expect(intrinsicSize("1in", "72pt")).toEqual({ width: 96, height: 96 });
    expect(intrinsicSize("25.4mm", "2.54cm")).toEqual({ width: 96, height: 96 });
    expect(intrinsicSize("100%", "100%", "0 0 640 480")).toEqual({ width: 640, height: 480 });
    expect(intrinsicSize("320", undefined, "0,0,640,480")).toEqual({ width: 320, height: 240 });
    expect(intrinsicSize(undefined, "60", "0 0 200 100")).toEqual({ width: 120, height: 60 });
    expect(intrinsicSize(undefined, undefined, "0 0 24 24")).toEqual({ width: 24, height: 24 });
    expect(intrinsicSize()).toEqual(SVG_DEFAULT_SIZE);
    expect(intrinsicSize("-5", "abc")).toEqual(SVG_DEFAULT_SIZE);
    const header = probeImage(bytes(svgOf("", 'viewBox="0 0 50 20" width="200"')));
    expect(header).toMatchObject({ format: "svg", width: 200, height: 80, hasAlpha: true, orientation: 1 });
  });
});

/** Shapes only (no text: resvg is given no fonts), drawn by both renderers alike. */
const SHAPES = svgOf(
  '<defs><linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#1e90ff"/><stop offset="1" stop-color="#ffffff"/></linearGradient></defs>' +
  '<rect width="400" height="300" fill="url(#sky)"/><circle cx="120" cy="150" r="80" fill="#ff8c00" stroke="#222" stroke-width="6"/>' +
  '<path d="M220 250 L300 60 L380 250 Z" fill="#2e8b57" opacity="0.8"/><rect x="20" y="20" width="60" height="40" rx="8" fill="none" stroke="#c00" stroke-width="4"/>',
  'width="400" height="300"',
);

describe("rasterising an SVG", () => {
  it("matches librsvg (sharp) within 30 dB PSNR at the intrinsic size and at a third of it", async () => {
    const input = sanitiseSvg(bytes(SHAPES), LIMITS);
    const source = { ...probeImage(input), format: "svg" as const };
    for (const [width, height] of [[400, 300], [200, 150], [133, 100]]) {
      const [out] = await renderTargets(input, source, [{ width, height, format: "png", quality: 90, metadata: "none" }], { modules, maxPixels: 100e6 });
      const ours = await rgbOnWhite(out.bytes);
      const reference = await rgbOnWhite(await sharp(Buffer.from(input), { density: 72 * (width / 400) }).resize(width, height).png().toBuffer());
      expect([ours.width, ours.height]).toEqual([width, height]);
      expect(psnr(ours.data, reference.data), `${width}×${height}`).toBeGreaterThan(30);
    }
  });

  it("renders straight at the target's size, never the intrinsic size shrunk: a 10000×10000 SVG to 200 px", async () => {
    const huge = sanitiseSvg(bytes(svgOf('<circle cx="5000" cy="5000" r="4000" fill="red"/>', 'width="10000" height="10000"')), LIMITS);
    const source = { ...probeImage(huge), format: "svg" as const };
    let report: { plan: { decodedWidth: number; decodedHeight: number; decoder: string } } | undefined;
    const [out] = await renderTargets(huge, source, [{ width: 200, height: 200, format: "webp", quality: 80, metadata: "none" }], { modules, maxPixels: 100e6 }, (r) => (report = r));
    expect(report!.plan).toMatchObject({ decoder: "resvg", decodedWidth: 200, decodedHeight: 200 });
    expect([out.width, out.height, out.format]).toEqual([200, 200, "webp"]);
  });

  it(`caps the raster at ${SVG_MAX_RASTER_PIXELS / 1e6} MP (a 10× zoom into a corner would be 12 MP) and plans it within the budget`, async () => {
    const input = sanitiseSvg(bytes(SHAPES), LIMITS);
    const source = { ...probeImage(input), format: "svg" as const };
    let peak = 0, decoded = 0;
    const [out] = await renderTargets(input, source, [{ width: 1000, height: 1000, crop: { left: 0, top: 0, width: 100, height: 100 }, format: "jpeg", quality: 80, metadata: "none" }], { modules, maxPixels: 100e6 }, (r) => {
      peak = r.plan.peakBytes;
      decoded = r.plan.decodedWidth * r.plan.decodedHeight;
    });
    expect(decoded).toBeLessThanOrEqual(SVG_MAX_RASTER_PIXELS);
    expect(peak).toBeLessThan(96 * 1024 * 1024);
    expect([out.width, out.height]).toEqual([1000, 1000]);
  });

  it("leaves filters out of what resvg is given (a full-canvas blur was 200 MiB and 38 s), the served SVG keeps them", async () => {
    const filtered = sanitiseSvg(bytes(svgOf(
      '<filter id="f"><feGaussianBlur stdDeviation="30"/></filter><style>.b { filter: url(#f); fill: blue }</style>' +
      '<rect width="100" height="100" fill="red" filter="url(#f)"/><circle class="b" cx="50" cy="50" r="20" style="filter:url(#f);stroke:black"/>')), LIMITS);
    expect(new TextDecoder().decode(filtered)).toContain("<feGaussianBlur");
    const prepared = new TextDecoder().decode(rasterSvg(filtered).svg);
    expect(prepared).not.toMatch(/filter|feGaussianBlur/);
    expect(prepared).toContain('style="stroke:black"');
    const plain = sanitiseSvg(bytes(svgOf('<style>.b { fill: blue }</style><rect width="100" height="100" fill="red"/><circle class="b" cx="50" cy="50" r="20" style="stroke:black"/>')), LIMITS);
    const source = { format: "svg" as const, width: 100, height: 100, orientation: 1 as const, hasAlpha: true };
    const target = [{ width: 800, height: 800, format: "png" as const, quality: 80, metadata: "none" as const }];
    const [a] = await renderTargets(filtered, source, target, { modules, maxPixels: 100e6 });
    const [b] = await renderTargets(plain, source, target, { modules, maxPixels: 100e6 });
    expect(psnr((await rgbOnWhite(a.bytes)).data, (await rgbOnWhite(b.bytes)).data)).toBe(Infinity);
  });

  it("budgets resvg's compositing layers: 12 nested translucent groups render at 300 px and are refused by name at 2000 px", async () => {
    const nested = sanitiseSvg(bytes(svgOf(`${'<g opacity="0.9">'.repeat(12)}<rect width="100" height="100" fill="red"/>${"</g>".repeat(12)}`, 'viewBox="0 0 100 100"')), LIMITS);
    expect(rasterSvg(nested).layerDepth).toBe(12);
    expect(rasterSvg(sanitiseSvg(bytes(svgOf('<g mask="url(#m)"><g opacity="1"><rect width="1" height="1"/></g></g>')), LIMITS)).layerDepth).toBe(2);
    const source = { ...probeImage(nested), format: "svg" as const };
    const small = await renderTargets(nested, source, [{ width: 300, height: 300, format: "png", quality: 80, metadata: "none" }], { modules, maxPixels: 100e6 });
    expect([small[0].width, small[0].height]).toEqual([300, 300]);
    await expect(renderTargets(nested, source, [{ width: 2000, height: 2000, format: "png", quality: 80, metadata: "none" }], { modules, maxPixels: 100e6 }))
      .rejects.toMatchObject({ kind: "limit", message: expect.stringMatching(/needs \d+ MB, over the 96 MB memory budget/) });
  });

  it("never fetches: an <image> pointing at a server renders without a request to it", async () => {
    let requests = 0;
    const { createServer } = await import("node:http");
    const server = createServer((_req, res) => {
      requests++;
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    try {
      // Straight to resvg, unsanitised: the rasteriser itself must not resolve it.
      const raw = bytes(svgOf(`<image href="http://127.0.0.1:${port}/x.png" width="50" height="50"/><use href="http://127.0.0.1:${port}/s.svg#a"/><rect width="10" height="10" fill="red"/>`));
      const image = instantiateResvg(modules.resvg!).api.render(raw, 100);
      expect([image.width, image.height]).toEqual([100, 100]);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(requests).toBe(0);
    } finally {
      server.close();
    }
  });

  it("is in the FORMATS table as image/svg+xml, and a damaged SVG fails as corrupt", async () => {
    expect(FORMATS.svg.contentType).toBe("image/svg+xml");
    const broken = bytes(`<svg ${NS} width="10" height="10"><rect width="5"`);
    expect(sniffFormat(broken)).toBe("svg");
    await expect(renderTargets(broken, { format: "svg", width: 10, height: 10, orientation: 1, hasAlpha: true },
      [{ width: 10, height: 10, format: "png", quality: 80, metadata: "none" }], { modules, maxPixels: 100e6 })).rejects.toMatchObject({ kind: "corrupt" });
  });
});
