/**
 * SVG: text whose root is `<svg>` in the SVG namespace. What is stored is already sanitised (svg-sanitise.ts, at
 * upload); it is rasterised with resvg (codecs/resvg.ts) straight at the size its largest target needs
 * (`rasterFor`), never at a huge intrinsic size to be shrunk afterwards.
 *
 * Intrinsic size (the probe), as browsers size an `<img>` of it: `width`/`height` in px or absolute units (pt,
 * pc, mm, cm, in; em/ex at a 16 px font); a missing or percentage side from the viewBox (its aspect ratio when
 * the other side is given, else its size); no viewBox either: 300×150, browsers' default (Cloudflare documents
 * none, as it never rasterises SVG).
 */
import { CodecError } from "../errors.ts";
import { asCodecError, rasterFromRgba } from "../decode.ts";
import type { Rect } from "../raster.ts";
import { checkRoot } from "../svg-sanitise.ts";
import { rasterSvg, type RasterSvg } from "../svg-raster.ts";
import type { RenderTarget, SourceInfo } from "../targets.ts";
import { XmlTokenizer, type XmlToken } from "../xml-tokens.ts";
import type { ImageFormatModule, ImageHeader, SourceDecoder } from "./types.ts";

const MiB = 1024 * 1024;

/** The intrinsic size of an SVG that says nothing about its size (browsers' default for a replaced element). */
export const SVG_DEFAULT_SIZE = { width: 300, height: 150 } as const;

/**
 * The largest raster an SVG is rendered at; a target larger than that is upscaled from it. resvg's heap is
 * ~2 MiB + 8 bytes a pixel + ~20× the SVG (measured in Node 22, 0.1–16 MP, 0.1 KB–1 MB of SVG), and the pixels
 * are copied out (4 more a pixel): 4 MP with a 1 MB SVG is a ~70 MB decode phase, inside the 96 MB budget with
 * room for the encoders; a 4000×4000 raster (190 MB) would not be.
 */
export const SVG_MAX_RASTER_PIXELS = 4_000_000;

export const svg: ImageFormatModule = {
  label: "SVG",
  contentType: "image/svg+xml",
  sniff: (bytes) => rootElement(bytes) !== undefined,
  probe: probeSvg,
  planningDecoders: (bytes, source) => [resvgDecoder(bytes, source)],
  read: (bytes, source) => ({ decoders: [resvgDecoder(bytes, source)], exif: () => undefined }),
  rasterFor,
};

/**
 * resvg at exactly the planned raster size (`source`, as `rasterFor` made it), given the SVG without its filters
 * (svg-raster.ts). Its memory: its heap (~2 MiB, ~20× the SVG, 8 bytes a pixel), 4 bytes a pixel for each level of
 * nested compositing groups, and the pixels copied out.
 */
function resvgDecoder(bytes: Uint8Array, source: SourceInfo): SourceDecoder {
  let prepared: RasterSvg | undefined;
  const raster = () => (prepared ??= rasterSvg(bytes));
  return {
    name: "resvg",
    memory: ({ inputBytes, width, height }) => {
      const rasterBytes = 4 * width * height;
      const layers = 4 * width * height * raster().layerDepth;
      return { rasterBytes, decodeBytes: inputBytes + 2 * MiB + 20 * inputBytes + 8 * width * height + layers + rasterBytes };
    },
    async decode(_scale, { codecs, modules, keepAlpha }) {
      if (!modules.resvg) throw new CodecError("unsupported", "SVG rasterising needs the resvg module, which this engine was not given");
      let codec;
      try {
        codec = codecs.instantiateResvg(modules.resvg);
        const image = fitRaster(codec.api.render(raster().svg, source.width), source.width, source.height);
        return { raster: rasterFromRgba(image, keepAlpha), decoderHeapBytes: codec.memory.buffer.byteLength };
      } catch (e) {
        throw asCodecError(e, "SVG rasterising");
      }
    },
  };
}

/**
 * resvg rounds the height of a width-fitted render its own way: up to a pixel off ours, or more where its idea of
 * the aspect ratio differs. The raster is cut or padded (transparent) to the planned size.
 */
function fitRaster(image: { data: Uint8Array | Uint8ClampedArray; width: number; height: number }, width: number, height: number) {
  if (image.width === width && image.height === height) return image;
  const data = new Uint8Array(width * height * 4);
  const rowBytes = Math.min(width, image.width) * 4;
  for (let y = 0; y < Math.min(height, image.height); y++) {
    data.set(image.data.subarray(y * image.width * 4, y * image.width * 4 + rowBytes), y * width * 4);
  }
  return { data, width, height };
}

/**
 * The raster to render for these targets: the intrinsic size scaled so that the target needing the most pixels
 * (of the region it shows) gets them 1:1, at most SVG_MAX_RASTER_PIXELS and maxPixels; the targets' crops are
 * mapped into it. Everything after (plan, resize, encode) treats it as any raster of that size.
 */
function rasterFor(source: SourceInfo, targets: RenderTarget[], maxPixels: number): { source: SourceInfo; targets: RenderTarget[] } {
  let zoom = 0;
  for (const t of targets) {
    const region = t.crop ?? { left: 0, top: 0, width: source.width, height: source.height };
    zoom = Math.max(zoom, t.width / region.width, t.height / region.height);
  }
  const cap = Math.min(SVG_MAX_RASTER_PIXELS, maxPixels);
  zoom = Math.min(zoom, Math.sqrt(cap / (source.width * source.height)));
  const width = Math.max(1, Math.floor(source.width * zoom));
  const height = Math.max(1, Math.floor(source.height * zoom));
  const [zx, zy] = [width / source.width, height / source.height];
  const scaleRect = (r: Rect): Rect => {
    const left = Math.min(width - 1, Math.round(r.left * zx));
    const top = Math.min(height - 1, Math.round(r.top * zy));
    return {
      left,
      top,
      width: Math.max(1, Math.min(width - left, Math.round(r.width * zx))),
      height: Math.max(1, Math.min(height - top, Math.round(r.height * zy))),
    };
  };
  const scaled = targets.map((t) => {
    if (!t.crop) return t;
    const crop = scaleRect(t.crop);
    if (!t.cropPlacement) return { ...t, crop };
    // gravity=auto: the bounds the engine places the crop in are mapped too, and the crop kept within them.
    const within = scaleRect(t.cropPlacement.within);
    return { ...t, crop: { ...crop, width: Math.min(crop.width, within.width), height: Math.min(crop.height, within.height) }, cropPlacement: { ...t.cropPlacement, within } };
  });
  return { source: { ...source, width, height, orientation: 1 }, targets: scaled };
}

/** The root start tag, when the text's first element is `<svg>` in the SVG namespace (after a BOM, XML declaration, comments, DOCTYPE). */
function rootElement(bytes: Uint8Array): Extract<XmlToken, { kind: "start" }> | undefined {
  // Every other format's magic bytes start with a byte that is no `<`, BOM or white space: bail out at once.
  let at = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  while (at < bytes.length && (bytes[at] === 0x20 || bytes[at] === 0x09 || bytes[at] === 0x0a || bytes[at] === 0x0d)) at++;
  if (bytes[at] !== 0x3c) return undefined;
  // A prefix may end mid-character or mid-document: only the tokens up to the root's start tag matter.
  const tokens = new XmlTokenizer(new TextDecoder().decode(bytes.subarray(at, at + 256 * 1024)), { lenientDoctype: true });
  try {
    for (let token = tokens.next(); token; token = tokens.next()) {
      if (token.kind === "start") {
        checkRoot(token);
        return token;
      }
    }
  } catch {
    return undefined;
  }
  return undefined;
}

function probeSvg(bytes: Uint8Array): ImageHeader {
  const root = rootElement(bytes);
  if (!root) throw new CodecError("unsupported", "text that is not an SVG document (its root element must be <svg> in the SVG namespace)");
  const attribute = (name: string) => root.attributes.find((a) => a.name === name)?.value;
  const { width, height } = intrinsicSize(attribute("width"), attribute("height"), attribute("viewBox"));
  return { format: "svg", width, height, orientation: 1, hasAlpha: true, progressive: false, animated: false };
}

const UNITS: Record<string, number> = { "": 1, px: 1, pt: 4 / 3, pc: 16, mm: 96 / 25.4, cm: 96 / 2.54, in: 96, em: 16, ex: 8 };

/** A length in px, "percent" for a percentage, undefined when absent or not a positive length. */
function length(value: string | undefined): number | "percent" | undefined {
  const m = value && /^\s*([+]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*(px|pt|pc|mm|cm|in|em|ex|%)?\s*$/.exec(value);
  if (!m) return undefined;
  if (m[2] === "%") return "percent";
  const px = Number(m[1]) * UNITS[m[2] ?? ""];
  return px > 0 && Number.isFinite(px) ? px : undefined;
}

/** The intrinsic size from `width`, `height` and `viewBox` (see the module comment). */
export function intrinsicSize(widthText?: string, heightText?: string, viewBoxText?: string): { width: number; height: number } {
  const numbers = viewBoxText?.trim().split(/[\s,]+/).map(Number);
  const viewBox = numbers?.length === 4 && numbers.every(Number.isFinite) && numbers[2] > 0 && numbers[3] > 0
    ? { width: numbers[2], height: numbers[3] } : undefined;
  const w = length(widthText), h = length(heightText);
  let width = typeof w === "number" ? w : undefined;
  let height = typeof h === "number" ? h : undefined;
  if (viewBox) {
    if (width === undefined && height === undefined) [width, height] = [viewBox.width, viewBox.height];
    else if (width === undefined) width = (height! * viewBox.width) / viewBox.height;
    else if (height === undefined) height = (width * viewBox.height) / viewBox.width;
  }
  return {
    width: Math.max(1, Math.round(width ?? SVG_DEFAULT_SIZE.width)),
    height: Math.max(1, Math.round(height ?? SVG_DEFAULT_SIZE.height)),
  };
}
