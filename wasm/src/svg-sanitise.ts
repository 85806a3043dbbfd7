/**
 * SVG sanitising: an uploaded SVG is tokenized (xml-tokens.ts) and written out again from allow-lists, so what we
 * store and serve is only what we chose to keep. Kept: SVG 1.1/2 shape, structure, paint, text, gradient,
 * pattern, clip, mask, marker, filter and (non-href) animation elements, their geometry and presentation
 * attributes, `style` and `<style>` without external references. Dropped, with everything inside them: every
 * other element (script, foreignObject, iframe, embed, object, HTML, editor namespaces, metadata), animation
 * of href or event attributes; and every `on*` attribute, every attribute not on the lists, every namespace
 * but SVG's and XLink's. `<a>` is unwrapped (its children kept, the link dropped). Comments, processing
 * instructions (`<?xml-stylesheet?>` included) and the DOCTYPE are not written out.
 *
 * References: `href`/`xlink:href` is kept only as a same-document fragment (`#id`), or on `<image>`/`<feImage>`
 * as a `data:image/(png|jpeg|webp|gif)` URI; `url(...)` only as `url(#id)`. Anything else — http(s), file,
 * `javascript:` however spelled (the tokenizer has already decoded entities; white space and control
 * characters do not help), other SVG files — is removed, so neither a browser opening the file nor the
 * rasteriser has anything to fetch.
 */
import { CodecError } from "./errors.ts";
import { gif } from "./formats/gif.ts";
import { jpeg } from "./formats/jpeg.ts";
import { png } from "./formats/png.ts";
import { webp } from "./formats/webp.ts";
import { XmlTokenizer, type XmlToken } from "./xml-tokens.ts";

export const SVG_NAMESPACE = "http://www.w3.org/2000/svg";
const XLINK_NAMESPACE = "http://www.w3.org/1999/xlink";

/** MAX_SVG_BYTES's default: 1 MiB is far above icons and illustrations (tens of KB) and bounds the rasteriser's parse (~20× the file). */
export const DEFAULT_MAX_SVG_BYTES = 1024 * 1024;

export interface SvgLimits {
  /** Largest SVG accepted, in bytes (MAX_SVG_BYTES). */
  maxBytes: number;
}

/** Elements are nested at most this deep (a deeper tree is a stack bomb for any renderer, not a drawing). */
export const MAX_SVG_DEPTH = 256;
/**
 * Pixels of all embedded raster images together, at most: resvg decodes each at full size (4 bytes a pixel) while it
 * renders, outside the raster the planner sizes, so a 1 MB SVG embedding a 20000×20000 PNG would be a decompression
 * bomb. Within this, the planner's allowance for the SVG itself (~20× its bytes) covers them.
 */
export const MAX_SVG_EMBEDDED_PIXELS = 4_000_000;
const EMBEDDED_FORMATS = [png, jpeg, gif, webp];

/** Elements in one SVG at most (resvg and browsers slow down long before this; real icons have hundreds). */
export const MAX_SVG_ELEMENTS = 200_000;

const ELEMENTS = new Set([
  "svg", "g", "defs", "symbol", "use", "switch", "view", "title", "desc",
  "path", "rect", "circle", "ellipse", "line", "polyline", "polygon", "image",
  "text", "tspan", "textPath",
  "linearGradient", "radialGradient", "stop", "pattern", "clipPath", "mask", "marker", "style",
  "filter", "feBlend", "feColorMatrix", "feComponentTransfer", "feComposite", "feConvolveMatrix", "feDiffuseLighting",
  "feDisplacementMap", "feDistantLight", "feDropShadow", "feFlood", "feFuncA", "feFuncB", "feFuncG", "feFuncR",
  "feGaussianBlur", "feImage", "feMerge", "feMergeNode", "feMorphology", "feOffset", "fePointLight",
  "feSpecularLighting", "feSpotLight", "feTile", "feTurbulence",
  "animate", "animateMotion", "animateTransform", "set", "mpath",
]);
/** Kept without their start and end tags: their children stay, the element (a link) goes. */
const UNWRAPPED = new Set(["a"]);
const ANIMATIONS = new Set(["animate", "animateMotion", "animateTransform", "set"]);

/** Presentation attributes (SVG 1.1 §M.2 and SVG 2's geometry properties): also the properties `style` may set. */
const PRESENTATION = new Set([
  "alignment-baseline", "baseline-shift", "clip", "clip-path", "clip-rule", "color", "color-interpolation",
  "color-interpolation-filters", "color-profile", "color-rendering", "cursor", "direction", "display",
  "dominant-baseline", "enable-background", "fill", "fill-opacity", "fill-rule", "filter", "flood-color",
  "flood-opacity", "font", "font-family", "font-size", "font-size-adjust", "font-stretch", "font-style",
  "font-variant", "font-weight", "glyph-orientation-horizontal", "glyph-orientation-vertical", "image-rendering",
  "isolation", "kerning", "letter-spacing", "lighting-color", "marker", "marker-end", "marker-mid", "marker-start",
  "mask", "mask-type", "mix-blend-mode", "opacity", "overflow", "paint-order", "pointer-events", "shape-rendering",
  "stop-color", "stop-opacity", "stroke", "stroke-dasharray", "stroke-dashoffset", "stroke-linecap",
  "stroke-linejoin", "stroke-miterlimit", "stroke-opacity", "stroke-width", "text-anchor", "text-decoration",
  "text-rendering", "transform", "transform-box", "transform-origin", "unicode-bidi", "vector-effect",
  "visibility", "word-spacing", "writing-mode",
]);

/** Other attributes, of any allowed element (the lists are per language, not per element: none of these can fetch or run anything). */
const ATTRIBUTES = new Set([
  ...PRESENTATION,
  "id", "class", "style", "lang", "tabindex", "xml:space", "xml:lang",
  "x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "rx", "ry", "fx", "fy", "fr", "width", "height", "d", "points",
  "pathLength", "viewBox", "preserveAspectRatio", "version", "baseProfile", "zoomAndPan",
  "dx", "dy", "rotate", "textLength", "lengthAdjust", "startOffset", "method", "spacing", "side",
  "gradientUnits", "gradientTransform", "spreadMethod", "offset", "patternUnits", "patternContentUnits",
  "patternTransform", "clipPathUnits", "maskUnits", "maskContentUnits", "markerUnits", "markerWidth", "markerHeight",
  "refX", "refY", "orient", "filterUnits", "primitiveUnits", "filterRes", "result", "in", "in2", "mode", "type",
  "values", "tableValues", "slope", "intercept", "amplitude", "exponent", "operator", "k1", "k2", "k3", "k4",
  "order", "kernelMatrix", "divisor", "bias", "targetX", "targetY", "edgeMode", "kernelUnitLength",
  "preserveAlpha", "surfaceScale", "diffuseConstant", "specularConstant", "specularExponent", "scale",
  "xChannelSelector", "yChannelSelector", "stdDeviation", "radius", "baseFrequency", "numOctaves", "seed",
  "stitchTiles", "azimuth", "elevation", "z", "pointsAtX", "pointsAtY", "pointsAtZ", "limitingConeAngle",
  "requiredFeatures", "requiredExtensions", "systemLanguage", "media", "title",
  // Animation timing and values (animation of href and of event attributes is refused by element, below).
  "attributeName", "attributeType", "begin", "dur", "end", "min", "max", "restart", "repeatCount", "repeatDur",
  "calcMode", "keyTimes", "keySplines", "keyPoints", "from", "to", "by", "additive", "accumulate", "path",
  "href", "xlink:href",
]);

const FRAGMENT = /^#[A-Za-z_][-A-Za-z0-9_.:]*$/;
const RASTER_DATA_URI = /^data:image\/(png|jpeg|webp|gif);base64,[A-Za-z0-9+/]*={0,2}$/;
const URL_FUNCTION = /url\s*\(/gi;
/** CSS functions that take a URL as a bare string (`image-set("x.png" 1x)`), which no `url(` check sees. */
const STRING_URL_FUNCTION = /(?:^|[^-\w])(?:-webkit-)?(?:image-set|image|cross-fade|element|src)\s*\(/i;
const FRAGMENT_URL = /url\s*\(\s*(["']?)#[A-Za-z_][-A-Za-z0-9_.:]*\1\s*\)/gi;

/**
 * The sanitised SVG, as UTF-8 bytes to store and serve. Throws CodecError: `limit` over `maxBytes` or the
 * depth and element bounds, `corrupt` for text that is not well-formed XML, `unsupported` for a root that is
 * not `<svg>` in the SVG namespace or for entity declarations we do not expand.
 */
export function sanitiseSvg(bytes: Uint8Array, limits: SvgLimits): Uint8Array {
  if (bytes.length > limits.maxBytes) {
    throw new CodecError("limit", `SVG is ${bytes.length} bytes; the limit is ${limits.maxBytes} bytes (MAX_SVG_BYTES)`);
  }
  const out: string[] = [];
  /** Per open element: whether it is written out. */
  const written: boolean[] = [];
  let dropDepth = 0;
  let elements = 0;
  let usesXlink = false;
  const embedded = { pixels: 0 };
  let rootAt = -1;
  /** The text of the `<style>` element being read. */
  let stylesheet: string[] | undefined;
  const tokens = new XmlTokenizer(svgText(bytes));
  for (let token = tokens.next(); token; token = tokens.next()) {
    if (token.kind === "start") {
      if (++elements > MAX_SVG_ELEMENTS) throw new CodecError("limit", `SVG has more than ${MAX_SVG_ELEMENTS} elements`);
      if (tokens.depth > MAX_SVG_DEPTH) throw new CodecError("limit", `SVG elements are nested more than ${MAX_SVG_DEPTH} deep`);
      if (rootAt < 0) {
        checkRoot(token);
        rootAt = out.length;
      }
      // A stylesheet holds text only: an element inside one goes, with everything in it.
      const keep = dropDepth === 0 && !stylesheet && keptElement(token);
      if (dropDepth > 0 || stylesheet || (!keep && !UNWRAPPED.has(token.name))) {
        if (!token.selfClosing) dropDepth++;
        continue;
      }
      if (!token.selfClosing) written.push(keep);
      if (!keep) continue;
      const attributes = token.attributes.flatMap(({ name, value }) => {
        const kept = keptAttribute(token.name, name, value, embedded);
        if (kept === undefined) return [];
        if (name === "xlink:href") usesXlink = true;
        return [` ${name}="${escapeXml(kept, true)}"`];
      });
      out.push(`<${token.name}${attributes.join("")}${token.selfClosing ? "/>" : ">"}`);
      if (token.name === "style" && !token.selfClosing) stylesheet = [];
    } else if (token.kind === "end") {
      if (dropDepth > 0) {
        dropDepth--;
        continue;
      }
      if (stylesheet) {
        // A stylesheet is judged whole (its text may come in several pieces, CDATA included).
        const css = stylesheet.join("");
        if (safeStylesheet(css)) out.push(escapeXml(css, false));
        stylesheet = undefined;
      }
      if (written.pop()) out.push(`</${token.name}>`);
    } else if (token.kind === "text") {
      if (dropDepth > 0 || rootAt < 0 || tokens.depth === 0) continue;
      if (stylesheet) stylesheet.push(token.text);
      else out.push(escapeXml(token.text, false));
    }
    // Comments, processing instructions and the DOCTYPE are not written out.
  }
  // The root's namespace declarations are ours: SVG's, and XLink's when a kept attribute needs it.
  out[rootAt] = out[rootAt].replace(/^<svg/, `<svg xmlns="${SVG_NAMESPACE}"${usesXlink ? ` xmlns:xlink="${XLINK_NAMESPACE}"` : ""}`);
  return new TextEncoder().encode(out.join(""));
}

/** The file as text: UTF-8 (a BOM is dropped); anything that is not valid UTF-8 is refused. */
export function svgText(bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new CodecError("corrupt", "SVG is not valid UTF-8 text");
  }
}

/** The root must be `<svg>` in the SVG namespace (a bare `<svg>` without it is no SVG to an XML reader). */
export function checkRoot(token: Extract<XmlToken, { kind: "start" }>): void {
  const xmlns = token.attributes.find((a) => a.name === "xmlns")?.value;
  if (token.name !== "svg") throw new CodecError("unsupported", `the root element is <${token.name}>, not <svg>`);
  if (xmlns !== SVG_NAMESPACE) throw new CodecError("unsupported", `the root <svg> is not in the SVG namespace (xmlns="${SVG_NAMESPACE}")`);
}

function keptElement(token: Extract<XmlToken, { kind: "start" }>): boolean {
  if (!ELEMENTS.has(token.name)) return false;
  if (ANIMATIONS.has(token.name)) {
    // Animating an href swaps in a reference we never checked; animating an on* attribute adds a handler.
    const target = token.attributes.find((a) => a.name === "attributeName")?.value.trim().toLowerCase() ?? "";
    if (target === "href" || target.endsWith(":href") || target.startsWith("on") || target === "style") return false;
  }
  return true;
}

/** The attribute's value to write out, or undefined when it is dropped. */
function keptAttribute(element: string, name: string, value: string, embedded: { pixels: number }): string | undefined {
  if (!ATTRIBUTES.has(name)) return undefined;
  if (name === "href" || name === "xlink:href") {
    // Browsers strip ASCII white space and controls out of URLs: so do we, before deciding.
    const url = value.replace(/[\u0000-\u0020\u007f]/g, "");
    if (FRAGMENT.test(url)) return url;
    if ((element === "image" || element === "feImage") && RASTER_DATA_URI.test(url)) {
      const pixels = embeddedImagePixels(url);
      if (pixels === undefined) return undefined;
      embedded.pixels += pixels;
      if (embedded.pixels > MAX_SVG_EMBEDDED_PIXELS) {
        throw new CodecError("limit", `SVG embeds raster images of more than ${MAX_SVG_EMBEDDED_PIXELS / 1e6} MP in all (MAX_SVG_EMBEDDED_PIXELS)`);
      }
      return url;
    }
    return undefined;
  }
  if (name === "style") return safeDeclarations(value);
  if (!safeCssValue(value)) return undefined;
  return value;
}

/** The pixels of a raster data URI by its header (as our upload probe reads it); undefined when it is none we can read. */
function embeddedImagePixels(uri: string): number | undefined {
  let bytes: Uint8Array;
  try {
    bytes = Uint8Array.from(atob(uri.slice(uri.indexOf(",") + 1)), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
  const format = EMBEDDED_FORMATS.find((f) => f.sniff(bytes));
  try {
    const header = format?.probe(bytes);
    return header && header.width > 0 && header.height > 0 ? header.width * header.height : undefined;
  } catch {
    return undefined;
  }
}

/** A CSS value that references nothing outside the document: every `url(` is `url(#id)`, no escapes, no expressions. */
function safeCssValue(value: string): boolean {
  // Every refusal below needs one of these characters; most geometry and colours have none.
  if (!/[(\\:@]/.test(value)) return true;
  const lower = value.toLowerCase();
  if (value.includes("\\") || lower.includes("expression") || lower.includes("javascript:") || lower.includes("@import")) return false;
  if (STRING_URL_FUNCTION.test(value)) return false;
  const urls = value.match(URL_FUNCTION)?.length ?? 0;
  const fragments = value.match(FRAGMENT_URL)?.length ?? 0;
  return urls === fragments;
}

/** A `style` attribute with only presentation properties whose values are safe; undefined when none is left. */
function safeDeclarations(style: string): string | undefined {
  const kept = style
    .split(";")
    .map((d) => d.trim())
    .filter((d) => {
      const colon = d.indexOf(":");
      if (colon <= 0) return false;
      const property = d.slice(0, colon).trim().toLowerCase();
      return PRESENTATION.has(property) && safeCssValue(d.slice(colon + 1));
    });
  return kept.length > 0 ? kept.join(";") : undefined;
}

/** `<style>` text: kept only when it has no at-rule but @media and @font-face, no escapes and no external url(). */
export function safeStylesheet(css: string): boolean {
  const text = css.replace(/\/\*[\s\S]*?\*\//g, "");
  const atRules = text.match(/@[-a-z]+/gi) ?? [];
  return atRules.every((r) => ["@media", "@keyframes"].includes(r.toLowerCase())) && safeCssValue(text);
}

function escapeXml(text: string, attribute: boolean): string {
  const escaped = text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  return attribute ? escaped.replace(/"/g, "&quot;") : escaped;
}
