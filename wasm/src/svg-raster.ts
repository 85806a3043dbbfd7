/**
 * What resvg is given to rasterise, and what its memory depends on besides the raster size.
 *
 * resvg's heap is not only the canvas: every group it composites (opacity below 1, a mask, a clip path) gets a
 * pixmap of its own while its content renders, and nested ones are alive together — measured in Node 22 at
 * 2000×2000: 10 nested `opacity` groups 171 MiB, 10 nested masks 190 MiB, against 32 MiB for none (~4 bytes a
 * canvas pixel a level, masks about twice that). Filters are worse: one feGaussianBlur over a full canvas at 200%
 * of its region was 200 MiB and 38 s, four chained 383 MiB. So:
 *   - filters are not applied when rasterising (`<filter>` and every `filter` reference are left out of resvg's
 *     copy; the stored SVG, served as SVG, keeps them for browsers);
 *   - the deepest stack of compositing groups is counted (`layerDepth`) and the planner budgets 4 bytes a pixel
 *     per level (formats/svg.ts), so an SVG whose layers cannot fit is refused by name, never run out of memory.
 * Opacity set by a class from a `<style>` cannot be seen per element here: when a stylesheet sets opacity, mask or
 * clip-path, every element with a class counts as a level (an overestimate, never an under-count).
 */
import { XmlTokenizer } from "./xml-tokens.ts";
import { svgText } from "./svg-sanitise.ts";

export interface RasterSvg {
  /** The sanitised SVG without its filters. */
  svg: Uint8Array;
  /** The deepest nesting of compositing groups (each mask or clip path counting two). */
  layerDepth: number;
}

const COMPOSITING = /(?:^|;)\s*(?:opacity|mask|clip-path)\s*:/i;
const FILTER_DECLARATION = /(^|[;{\s])filter\s*:[^;}]*;?/gi;

/**
 * Prepares a sanitised SVG for resvg. `bytes` may be a prefix of the file (planning an upload from its first
 * bytes): the layers seen so far are counted, and the engine counts them again from the whole file before it renders.
 */
export function rasterSvg(bytes: Uint8Array): RasterSvg {
  const out: string[] = [];
  const depths: number[] = [0];
  let deepest = 0;
  let dropDepth = 0;
  let classesComposite = false;
  let inStyle = false;
  const tokens = new XmlTokenizer(svgText(bytes));
  try {
    for (let token = tokens.next(); token; token = tokens.next()) {
      if (token.kind === "start") {
        if (dropDepth > 0 || token.name === "filter") {
          if (!token.selfClosing) dropDepth++;
          continue;
        }
        const attribute = (name: string) => token.attributes.find((a) => a.name === name)?.value;
        const opacity = attribute("opacity");
        const style = attribute("style") ?? "";
        let levels = (opacity !== undefined && Number(opacity) < 1) || /(?:^|;)\s*opacity\s*:/i.test(style) ? 1 : 0;
        if (attribute("mask") !== undefined || attribute("clip-path") !== undefined || /(?:^|;)\s*(?:mask|clip-path)\s*:/i.test(style)) levels += 2;
        if (["mask", "clipPath", "pattern", "marker"].includes(token.name)) levels += 1;
        if (classesComposite && attribute("class") !== undefined && levels === 0) levels = 1;
        const depth = depths.at(-1)! + levels;
        deepest = Math.max(deepest, depth);
        if (!token.selfClosing) depths.push(depth);
        const attributes = token.attributes
          .filter((a) => a.name !== "filter")
          .map((a) => ` ${a.name}="${escape(a.name === "style" ? a.value.replace(FILTER_DECLARATION, "$1") : a.value)}"`);
        out.push(`<${token.name}${attributes.join("")}${token.selfClosing ? "/>" : ">"}`);
        inStyle = token.name === "style" && !token.selfClosing;
      } else if (token.kind === "end") {
        if (dropDepth > 0) {
          dropDepth--;
          continue;
        }
        depths.pop();
        inStyle = false;
        out.push(`</${token.name}>`);
      } else if (token.kind === "text" && dropDepth === 0 && tokens.depth > 0) {
        if (inStyle && COMPOSITING.test(token.text.replace(/[{}]/g, ";"))) classesComposite = true;
        out.push(escape(inStyle ? token.text.replace(FILTER_DECLARATION, "$1") : token.text));
      }
    }
  } catch {
    // A prefix ends mid-document: what was read is counted (see above).
  }
  return { svg: new TextEncoder().encode(out.join("")), layerDepth: deepest };
}

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
