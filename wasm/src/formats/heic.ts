/**
 * HEIC (HEIF with HEVC, as iPhones write it): decoded by libheif (libheif-js 1.23.2, with libde265).
 *
 * The probe reads the ISOBMFF boxes without decoding: the primary item (`pitm`), its size (`ispe`, after a
 * `clap` crop), its transformations (`irot`/`imir`), a grid's layout (`iref dimg` tiles, the `grid` item's
 * rows, columns and output size), an alpha auxiliary image (`auxC`) and the Exif item (`iinf`/`iloc`).
 *
 * Orientation: the displayed image is the irot/imir-transformed one. We report the stored size and the
 * orientation irot/imir give (as for AVIF), and decode with libheif's transformations off, so the engine's
 * orient step turns it once. An EXIF orientation in a HEIC is never applied: iPhones write one that agrees with
 * irot, libheif and Apple ignore it, and applying both would turn the image twice.
 *
 * Memory: a grid without alpha (every iPhone photo) is decoded tile by tile into our raster, so libheif's heap
 * holds the file and one 512×512 tile, not the whole image twice (its planar YCbCr and RGB copies); a single
 * coded image, or a grid with alpha, is decoded whole.
 */
import { CodecError } from "../errors.ts";
import type { Orientation, Raster } from "../raster.ts";
import type { HeifDecoder } from "../codecs/instances.ts";
import { asCodecError } from "../decode.ts";
import type { JpegScale } from "../kernels.ts";
import { chooseDecodeScale } from "../plan.ts";
import { ascii, readU32 } from "./reader.ts";
import type { DecodeContext, DecodeResult, ImageFormatModule, ImageHeader, SourceDecoder } from "./types.ts";

const MiB = 1024 * 1024;

/** ftyp brands of HEVC-coded HEIF (ISO 23008-12 Annex B) and the generic HEIF brands we probe for HEVC. */
const HEIC_BRANDS = ["heic", "heix", "hevc", "hevx", "heim", "heis", "mif1", "msf1"];

export const heic: ImageFormatModule = {
  label: "HEIC",
  contentType: "image/heic",
  sniff(b) {
    if (b.length < 12 || ascii(b, 4, 4) !== "ftyp") return false;
    const brands = ftypBrands(b);
    // AVIF files carry mif1 too: theirs is AVIF's module.
    return !brands.some((x) => x === "avif" || x === "avis") && brands.some((x) => HEIC_BRANDS.includes(x));
  },
  probe: (bytes) => headerOf(heicLayout(bytes)),
  // The decoder's memory model needs the layout only (grid or not), which the header holds.
  planningDecoders: (bytes) => [libheifDecoder(bytes, heicLayout(bytes))],
  read: (bytes) => {
    const layout = heicLayout(bytes);
    return {
      decoders: [libheifDecoder(bytes, layout)],
      exif: () => {
        try {
          return exifOf(bytes, readBoxes(bytes));
        } catch {
          return undefined; // a malformed box tree only costs the metadata, never the render
        }
      },
    };
  },
};

function ftypBrands(b: Uint8Array): string[] {
  const end = Math.min(readU32(b, 0), b.length);
  const brands = [ascii(b, 8, 4)];
  for (let p = 16; p + 4 <= end; p += 4) brands.push(ascii(b, p, 4));
  return brands;
}

/** What the probe and the decoder need to know about the primary image. */
export interface HeicLayout {
  /** Stored size: the primary item's ispe, cropped by its clean aperture. */
  width: number;
  height: number;
  /** The primary item's ispe: the size libheif decodes it to, transformations off. */
  extent: { width: number; height: number };
  /** The clean aperture's window inside the decoded ispe-sized image, when there is one. */
  crop?: { left: number; top: number };
  orientation: Orientation;
  hasAlpha: boolean;
  /** A grid image's tiling (tiles in row-major order), undefined for a single coded image. */
  grid?: { rows: number; columns: number; tileWidth: number; tileHeight: number };
}

function headerOf(layout: HeicLayout): ImageHeader {
  return { format: "heic", width: layout.width, height: layout.height, orientation: layout.orientation, hasAlpha: layout.hasAlpha, progressive: false, animated: false };
}

/** Frames (or grid tile canvases) up to this size are decoded whatever the image's extent says. */
const SLACK_PIXELS = 1 << 20;
/** HEVC frames code sizes rounded up to 8 px; a frame up to this size is decoded whatever its extent says. */
const HEVC_FRAME_SLACK_PIXELS = 1 << 16;

/** Reads the primary image's layout from the box tree; throws CodecError (`corrupt`, `unsupported`, `limit`). */
export function heicLayout(bytes: Uint8Array): HeicLayout {
  const heif = readBoxes(bytes);
  const primary = heif.items.get(heif.primary);
  if (!primary) throw new CodecError("corrupt", `HEIF primary item ${heif.primary} (pitm) is not in the item list (iinf)`);
  if (primary.type !== "hvc1" && primary.type !== "grid") {
    throw new CodecError("unsupported", `HEIF primary image is coded as '${primary.type}'; we decode HEVC ('hvc1') images and grids of them`);
  }
  const props = heif.propertiesOf(heif.primary);
  const extent = props.find((p) => p.type === "ispe");
  if (!extent || extent.end - extent.body < 12) throw new CodecError("corrupt", "HEIF primary image has no image spatial extent (ispe)");
  const ispeWidth = readU32(bytes, extent.body + 4);
  const ispeHeight = readU32(bytes, extent.body + 8);
  if (!(ispeWidth > 0 && ispeHeight > 0)) throw new CodecError("corrupt", `HEIF primary image declares an empty extent (${ispeWidth}×${ispeHeight})`);

  const layout: HeicLayout = { width: ispeWidth, height: ispeHeight, extent: { width: ispeWidth, height: ispeHeight }, orientation: 1, hasAlpha: false };
  let transform: Orientation = 1;
  for (const p of props) {
    if (p.type === "clap") {
      // MIAF orders clap before irot/imir, so its window is in stored coordinates.
      Object.assign(layout, cleanAperture(bytes, p.body, ispeWidth, ispeHeight));
    } else if (p.type === "irot" && p.end > p.body) {
      transform = compose(transform, IROT[bytes[p.body] & 3]);
    } else if (p.type === "imir" && p.end > p.body) {
      transform = compose(transform, (bytes[p.body] & 1) === 0 ? 4 : 2);
    }
  }
  layout.orientation = transform;

  if (primary.type === "grid") {
    const tiles = heif.refs("dimg", heif.primary);
    const data = heif.itemData(heif.primary);
    if (!data) throw new CodecError("corrupt", "HEIF grid description lies outside the file (truncated?)");
    if (data.length < 8) throw new CodecError("corrupt", "HEIF grid description is truncated");
    const rows = data[2] + 1, columns = data[3] + 1;
    const wide = (data[1] & 1) === 1;
    if (wide && data.length < 12) throw new CodecError("corrupt", "HEIF grid description is truncated");
    const outWidth = wide ? readU32(data, 4) : (data[4] << 8) | data[5];
    const outHeight = wide ? readU32(data, 8) : (data[6] << 8) | data[7];
    if (tiles.length !== rows * columns) throw new CodecError("corrupt", `HEIF grid is ${columns}×${rows} tiles but references ${tiles.length} (iref dimg)`);
    if (outWidth !== ispeWidth || outHeight !== ispeHeight) {
      throw new CodecError("corrupt", `HEIF grid output ${outWidth}×${outHeight} differs from its extent (ispe) ${ispeWidth}×${ispeHeight}`);
    }
    let tileWidth = 0, tileHeight = 0;
    for (const id of tiles) {
      if (heif.items.get(id)?.type !== "hvc1") throw new CodecError("unsupported", `HEIF grid tile ${id} is not an HEVC image`);
      const size = heif.extentOf(id);
      if (!size) throw new CodecError("corrupt", `HEIF grid tile ${id} has no image spatial extent (ispe)`);
      if (tileWidth === 0) [tileWidth, tileHeight] = [size.width, size.height];
      else if (size.width !== tileWidth || size.height !== tileHeight) throw new CodecError("corrupt", `HEIF grid tiles differ in size (${tileWidth}×${tileHeight} and ${size.width}×${size.height})`);
    }
    if (columns * tileWidth < outWidth || rows * tileHeight < outHeight) {
      throw new CodecError("corrupt", `HEIF grid of ${columns}×${rows} tiles of ${tileWidth}×${tileHeight} does not cover its ${outWidth}×${outHeight} output`);
    }
    // Every tile is decoded, shown or not: a grid whose tiles far exceed its output is a bomb.
    const canvas = columns * tileWidth * rows * tileHeight;
    if ((columns - 1) * tileWidth >= outWidth || (rows - 1) * tileHeight >= outHeight || canvas > Math.max(4 * outWidth * outHeight, SLACK_PIXELS)) {
      throw new CodecError("limit", `HEIF grid of ${columns}×${rows} tiles of ${tileWidth}×${tileHeight} is far larger than its ${outWidth}×${outHeight} output`);
    }
    layout.grid = { rows, columns, tileWidth, tileHeight };
  }

  // libde265 allocates for the HEVC stream's own frame size (its SPS), whatever ispe says.
  for (const id of primary.type === "grid" ? heif.refs("dimg", heif.primary) : [heif.primary]) {
    const size = heif.extentOf(id)!;
    const frame = heif.hevcFrameSize(id);
    if (frame && frame.width * frame.height > Math.max(4 * size.width * size.height, HEVC_FRAME_SLACK_PIXELS)) {
      throw new CodecError("limit", `HEIF image ${id}'s HEVC stream codes ${frame.width}×${frame.height} frames, far larger than its ${size.width}×${size.height} extent (ispe)`);
    }
  }

  // An alpha plane is an auxiliary image of the primary (iref auxl) whose auxC names alpha.
  for (const [id] of heif.items) {
    if (!heif.refs("auxl", id).includes(heif.primary)) continue;
    const auxC = heif.propertiesOf(id).find((p) => p.type === "auxC");
    if (auxC && /urn:mpeg:hevc:2015:auxid:1|urn:mpeg:mpegB:cicp:systems:auxiliary:alpha/.test(ascii(bytes, auxC.body + 4, auxC.end - auxC.body - 4))) layout.hasAlpha = true;
  }
  return layout;
}

/** EXIF orientation after applying irot's quarter turns anticlockwise to an unrotated image. */
const IROT: readonly Orientation[] = [1, 8, 3, 6];

/** Each EXIF orientation as the matrix that maps stored to displayed coordinates (y down, about the centre). */
const MATRICES: Record<Orientation, readonly [number, number, number, number]> = {
  1: [1, 0, 0, 1], 2: [-1, 0, 0, 1], 3: [-1, 0, 0, -1], 4: [1, 0, 0, -1],
  5: [0, 1, 1, 0], 6: [0, -1, 1, 0], 7: [0, -1, -1, 0], 8: [0, 1, -1, 0],
};

/** `first`, then `then`: HEIF applies its transformative properties in their association order. */
function compose(first: Orientation, then: Orientation): Orientation {
  const [a, b, c, d] = MATRICES[then], [e, f, g, h] = MATRICES[first];
  const m = [a * e + b * g, a * f + b * h, c * e + d * g, c * f + d * h];
  return (Object.keys(MATRICES).map(Number) as Orientation[]).find((o) => MATRICES[o].every((v, i) => v === m[i]))!;
}

/** A `clap` box's window, rounded as libheif rounds it (ISO 14496-12 12.1.4: fractions about the image centre). */
function cleanAperture(b: Uint8Array, body: number, width: number, height: number): { width: number; height: number; crop: { left: number; top: number } } {
  const fraction = (at: number) => {
    const n = readU32(b, at) | 0, d = readU32(b, at + 4) | 0;
    if (d === 0) throw new CodecError("corrupt", "HEIF clean aperture (clap) has a zero denominator");
    return n / d;
  };
  const w = fraction(body), h = fraction(body + 8), dx = fraction(body + 16), dy = fraction(body + 24);
  const left = Math.floor(dx + (width - 1) / 2 - (w - 1) / 2);
  const top = Math.floor(dy + (height - 1) / 2 - (h - 1) / 2);
  const cw = Math.round(w), ch = Math.round(h);
  if (!(left >= 0 && top >= 0 && cw > 0 && ch > 0 && left + cw <= width && top + ch <= height)) {
    throw new CodecError("corrupt", `HEIF clean aperture ${cw}×${ch} at ${left},${top} lies outside the ${width}×${height} image`);
  }
  return { width: cw, height: ch, crop: { left, top } };
}

interface Box {
  type: string;
  body: number;
  end: number;
}

/** Boxes directly inside [start, end); a box running past `end` ends the walk (the rest is cut off). */
function children(b: Uint8Array, start: number, end: number): Box[] {
  const out: Box[] = [];
  for (let p = start; p + 8 <= end;) {
    let size = readU32(b, p);
    let header = 8;
    if (size === 1) {
      if (p + 16 > end) break;
      size = readU32(b, p + 8) * 2 ** 32 + readU32(b, p + 12);
      header = 16;
    } else if (size === 0) size = end - p;
    if (size < header) throw new CodecError("corrupt", `HEIF box '${ascii(b, p + 4, 4)}' at byte ${p} has a bad size`);
    if (p + size > end) {
      out.push({ type: ascii(b, p + 4, 4), body: p + header, end: -1 }); // cut off: known, not readable
      break;
    }
    out.push({ type: ascii(b, p + 4, 4), body: p + header, end: p + size });
    p += size;
  }
  return out;
}

/** A bounds-checked big-endian cursor over one box: reading past it is `corrupt`. */
function cursor(b: Uint8Array, box: Box) {
  let p = box.body;
  const n = (bytes: number): number => {
    if (p + bytes > box.end) throw new CodecError("corrupt", `HEIF '${box.type}' box is truncated`);
    let v = 0;
    for (let i = 0; i < bytes; i++) v = v * 256 + b[p++];
    return v;
  };
  return { n, get pos() { return p; }, skip: (k: number) => void (p += k) };
}

interface Location {
  method: number;
  base: number;
  extents: Array<{ offset: number; length: number }>;
}

/** The `meta` box's item tables: infos, locations, references, properties. */
function readBoxes(b: Uint8Array) {
  const top = children(b, 0, b.length);
  const meta = top.find((x) => x.type === "meta");
  if (!meta) throw new CodecError(top.some((x) => x.type === "moov") ? "unsupported" : "corrupt", "HEIF file has no still image (meta box); image sequences are not supported");
  if (meta.end < 0) throw new CodecError("corrupt", "HEIF meta box is truncated");
  const inner = children(b, meta.body + 4, meta.end);
  const find = (type: string) => {
    const box = inner.find((x) => x.type === type);
    if (box && box.end < 0) throw new CodecError("corrupt", `HEIF '${type}' box is truncated`);
    return box;
  };

  const pitm = find("pitm");
  if (!pitm) throw new CodecError("corrupt", "HEIF file has no primary item (pitm)");
  const pc = cursor(b, pitm);
  const primary = pc.n(1) === 0 ? (pc.skip(3), pc.n(2)) : (pc.skip(3), pc.n(4));

  const items = new Map<number, { type: string }>();
  const iinf = find("iinf");
  if (!iinf) throw new CodecError("corrupt", "HEIF file has no item list (iinf)");
  const ic = cursor(b, iinf);
  const iinfVersion = ic.n(1);
  ic.skip(3);
  ic.n(iinfVersion === 0 ? 2 : 4);
  for (const infe of children(b, ic.pos, iinf.end)) {
    if (infe.type !== "infe" || infe.end < 0) continue;
    const c = cursor(b, infe);
    const version = c.n(1);
    c.skip(3);
    if (version < 2) continue;
    const id = c.n(version === 2 ? 2 : 4);
    c.n(2); // protection index
    c.n(4);
    items.set(id, { type: ascii(b, c.pos - 4, 4) });
  }

  const locations = new Map<number, Location>();
  const iloc = find("iloc");
  if (iloc) {
    const c = cursor(b, iloc);
    const version = c.n(1);
    c.skip(3);
    const sizes = c.n(2);
    const offsetSize = sizes >> 12, lengthSize = (sizes >> 8) & 15, baseSize = (sizes >> 4) & 15;
    const indexSize = version === 1 || version === 2 ? sizes & 15 : 0;
    const count = c.n(version < 2 ? 2 : 4);
    for (let i = 0; i < count; i++) {
      const id = c.n(version < 2 ? 2 : 4);
      const method = version === 1 || version === 2 ? c.n(2) & 15 : 0;
      c.n(2); // data reference index
      const base = c.n(baseSize);
      const extents = [];
      for (let e = c.n(2); e > 0; e--) {
        c.n(indexSize);
        extents.push({ offset: c.n(offsetSize), length: c.n(lengthSize) });
      }
      locations.set(id, { method, base, extents });
    }
  }
  const idat = find("idat");

  const refs: Array<{ type: string; from: number; to: number[] }> = [];
  const iref = find("iref");
  if (iref) {
    const c = cursor(b, iref);
    const wide = c.n(1) !== 0;
    c.skip(3);
    for (const r of children(b, c.pos, iref.end)) {
      if (r.end < 0) break;
      const rc = cursor(b, r);
      const from = rc.n(wide ? 4 : 2);
      const to: number[] = [];
      for (let k = rc.n(2); k > 0; k--) to.push(rc.n(wide ? 4 : 2));
      refs.push({ type: r.type, from, to });
    }
  }

  const iprp = find("iprp");
  if (!iprp) throw new CodecError("corrupt", "HEIF file has no item properties (iprp)");
  const props = children(b, iprp.body, iprp.end);
  const ipco = props.find((x) => x.type === "ipco");
  if (!ipco || ipco.end < 0) throw new CodecError("corrupt", "HEIF file has no property container (ipco)");
  const properties = children(b, ipco.body, ipco.end);
  const associations = new Map<number, number[]>();
  for (const ipma of props.filter((x) => x.type === "ipma")) {
    if (ipma.end < 0) throw new CodecError("corrupt", "HEIF 'ipma' box is truncated");
    const c = cursor(b, ipma);
    const version = c.n(1);
    const wideIndex = (c.n(3) & 1) === 1;
    for (let k = c.n(4); k > 0; k--) {
      const id = c.n(version < 1 ? 2 : 4);
      const list: number[] = [];
      for (let a = c.n(1); a > 0; a--) list.push(wideIndex ? c.n(2) & 0x7fff : c.n(1) & 0x7f);
      associations.set(id, list);
    }
  }

  const propertiesOf = (id: number): Box[] => (associations.get(id) ?? []).filter((i) => i > 0 && i <= properties.length).map((i) => properties[i - 1]).filter((p) => p.end >= 0);
  return {
    primary,
    items,
    propertiesOf,
    /** Items `from` references with `type` (e.g. a grid's tiles). */
    refs: (type: string, from: number) => refs.filter((r) => r.type === type && r.from === from).flatMap((r) => r.to),
    extentOf(id: number) {
      const p = propertiesOf(id).find((x) => x.type === "ispe" && x.end - x.body >= 12);
      return p && { width: readU32(b, p.body + 4), height: readU32(b, p.body + 8) };
    },
    /** An item's data (file offsets or idat), or undefined when it lies outside `b` (a prefix of the file). */
    itemData(id: number): Uint8Array | undefined {
      const loc = locations.get(id);
      if (!loc) return undefined;
      const area = loc.method === 0 ? { start: 0, end: b.length } : loc.method === 1 && idat ? { start: idat.body, end: idat.end } : undefined;
      if (!area) return undefined;
      const parts = loc.extents.map(({ offset, length }) => {
        const start = area.start + loc.base + offset;
        const end = length === 0 ? area.end : start + length;
        return end <= area.end && end <= b.length ? b.subarray(start, end) : undefined;
      });
      if (parts.some((p) => !p)) return undefined;
      if (parts.length === 1) return parts[0];
      const out = new Uint8Array(parts.reduce((n, p) => n + p!.length, 0));
      let at = 0;
      for (const p of parts) {
        out.set(p!, at);
        at += p!.length;
      }
      return out;
    },
    /** The frame size the item's HEVC sequence parameter set codes (its `hvcC`), when it can be read. */
    hevcFrameSize(id: number) {
      const hvcC = propertiesOf(id).find((x) => x.type === "hvcC");
      return hvcC && hevcSpsSize(b.subarray(hvcC.body, hvcC.end));
    },
  };
}

/** The Exif item's TIFF bytes (past its 4-byte header offset and "Exif\0\0"), undefined when there is none. */
function exifOf(b: Uint8Array, heif: ReturnType<typeof readBoxes>): Uint8Array | undefined {
  for (const [id, item] of heif.items) {
    if (item.type !== "Exif") continue;
    const data = heif.itemData(id);
    if (!data || data.length < 4) return undefined;
    const tiff = 4 + readU32(data, 0);
    return tiff < data.length ? data.subarray(tiff) : undefined;
  }
  return undefined;
}

/**
 * pic_width/height_in_luma_samples of the first SPS in an hvcC record (ISO 14496-15 8.3.3, H.265 7.3.2.2), or
 * undefined when it is missing or malformed (libde265 judges then).
 */
function hevcSpsSize(hvcC: Uint8Array): { width: number; height: number } | undefined {
  try {
    let p = 22;
    const arrays = hvcC[p++];
    let sps: Uint8Array | undefined;
    for (let a = 0; a < arrays && !sps && p + 3 <= hvcC.length; a++) {
      const type = hvcC[p] & 0x3f;
      const count = (hvcC[p + 1] << 8) | hvcC[p + 2];
      p += 3;
      for (let k = 0; k < count && p + 2 <= hvcC.length; k++) {
        const length = (hvcC[p] << 8) | hvcC[p + 1];
        if (type === 33 && !sps) sps = hvcC.subarray(p + 2, p + 2 + length);
        p += 2 + length;
      }
    }
    if (!sps) return undefined;
    // Drop emulation prevention bytes (00 00 03).
    const rbsp: number[] = [];
    for (let i = 2; i < sps.length && rbsp.length < 128; i++) {
      if (i >= 4 && sps[i] === 3 && sps[i - 1] === 0 && sps[i - 2] === 0) continue;
      rbsp.push(sps[i]);
    }
    let bit = 0;
    const u = (n: number) => {
      let v = 0;
      for (let i = 0; i < n; i++) {
        if (bit >= rbsp.length * 8) throw new RangeError("short");
        v = v * 2 + ((rbsp[bit >> 3] >> (7 - (bit & 7))) & 1);
        bit++;
      }
      return v;
    };
    const ue = () => {
      let zeros = 0;
      while (u(1) === 0) if (++zeros > 31) throw new RangeError("bad ue");
      return 2 ** zeros - 1 + u(zeros);
    };
    u(4); // sps_video_parameter_set_id
    const subLayers = u(3);
    u(1);
    u(96); // general profile, tier and level
    const present: Array<[number, number]> = [];
    for (let i = 0; i < subLayers; i++) present.push([u(1), u(1)]);
    if (subLayers > 0) for (let i = subLayers; i < 8; i++) u(2);
    for (const [profile, level] of present) {
      if (profile) u(88);
      if (level) u(8);
    }
    ue(); // sps_seq_parameter_set_id
    if (ue() === 3) u(1); // chroma_format_idc 4:4:4: separate_colour_plane_flag
    return { width: ue(), height: ue() };
  } catch {
    return undefined;
  }
}

/**
 * The decoder: libheif with its transformations off (the engine orients), to RGB or RGBA, a grid without alpha
 * tile by tile. Memory calibrated in Node 22 from the instance's `memory.buffer.byteLength` (see the HEIC
 * tests' 12 MP and 48 MP grids).
 *
 * Shrink-on-load: the decoded image (each tile of a tiled decode) is averaged into the raster at 1/2, 1/4 or
 * 1/8 (as PNG averages rows), when the tile size is a multiple of the scale and no clean aperture shifts the
 * blocks off the tiles; so a 12 MP iPhone photo's eager variants never hold its full-size raster.
 */
export function libheifDecoder(bytes: Uint8Array, layout: HeicLayout): SourceDecoder {
  const tiled = layout.grid !== undefined && !layout.hasAlpha;
  const { tileWidth, tileHeight } = tiled ? layout.grid! : { tileWidth: 0, tileHeight: 0 };
  const c = layout.hasAlpha ? 4 : 3;
  // A whole image is averaged from its top-left; a tiled one tile by tile, so blocks must not span tiles.
  const alignedTo = (s: number) => !tiled || (tileWidth % s === 0 && tileHeight % s === 0);
  return {
    name: tiled ? "libheif-tiles" : "libheif",
    chooseScale: (plan) => {
      if (layout.crop) return 1;
      const largest = chooseDecodeScale(plan);
      return ([8, 4, 2] as const).find((s) => s <= largest && alignedTo(s)) ?? 1;
    },
    memory: ({ inputBytes, width, height }) => {
      const rasterBytes = width * height * c;
      // Measured in Node 22 (memory.buffer.byteLength) above the initial 16 MiB and the file we copy in:
      // tiled, nothing on 12 MP and 48 MP grids of 512×512 tiles (a tile's planes fit the initial heap; we allow
      // 16 bytes a tile pixel); whole, 6.0·n for RGB and 8.0·n for RGBA on 12 MP single images (libde265's
      // frame, libheif's planar copy and its interleaved image), whatever the scale we average down to.
      const extent = layout.extent.width * layout.extent.height;
      const work = tiled ? 16 * tileWidth * tileHeight : (c === 4 ? 8.5 : 6.5) * extent;
      return { rasterBytes, decodeBytes: inputBytes + 16 * MiB + inputBytes + work + rasterBytes };
    },
    decode: (scale, context) => decodeHeic(bytes, layout, scale, context),
  };
}

const COLORSPACE_RGB = 1;
const CHROMA_INTERLEAVED_RGB = 10;
const CHROMA_INTERLEAVED_RGBA = 11;
const CHANNEL_INTERLEAVED = 10;

async function decodeHeic(input: Uint8Array, layout: HeicLayout, scale: JpegScale, { modules, codecs }: DecodeContext): Promise<DecodeResult> {
  const codec = await codecs.instantiateHeifDecoder(modules.heifDec);
  const heif: HeifDecoder = codec.api;
  const channels = layout.hasAlpha ? 4 : 3;
  const chroma = layout.hasAlpha ? CHROMA_INTERLEAVED_RGBA : CHROMA_INTERLEAVED_RGB;
  const width = Math.ceil(layout.width / scale), height = Math.ceil(layout.height / scale);
  const raster: Raster = { data: new Uint8Array(width * height * channels), width, height, channels };
  const crop = layout.crop ?? { left: 0, top: 0 };
  try {
    const scratch = heif._malloc(16); // a heif_error (12 bytes), then one out-pointer
    const out = scratch + 12;
    const check = (what: string) => {
      const words = new Int32Array(heif.HEAPU8.buffer, scratch, 3);
      if (words[0] === 0) return;
      let message = "";
      for (let p = words[2]; p > 0 && heif.HEAPU8[p] !== 0 && message.length < 200; p++) message += String.fromCharCode(heif.HEAPU8[p]);
      throw new CodecError("corrupt", `HEIC decode failed: ${what}: ${message || `libheif error ${words[0]}.${words[1]}`}`);
    };
    const pointerAt = (at: number) => new Uint32Array(heif.HEAPU8.buffer, at, 1)[0];
    const file = heif._malloc(input.length);
    heif.HEAPU8.set(input, file);
    const context = heif._heif_context_alloc();
    heif._heif_context_read_from_memory_without_copy(scratch, context, file, input.length, 0);
    check("reading the file");
    heif._heif_context_get_primary_image_handle(scratch, context, out);
    check("finding the primary image");
    const handle = pointerAt(out);
    const options = heif._heif_decoding_options_alloc();
    heif.HEAPU8[options + 1] = 1; // heif_decoding_options.ignore_transformations (version 1 field): the engine orients
    /** Copies the decoded image placed at (x, y) of the ispe-sized image into the raster's window of it. */
    const place = (x: number, y: number, expectWidth: number, expectHeight: number) => {
      const image = pointerAt(out);
      const w = heif._heif_image_get_width(image, CHANNEL_INTERLEAVED), h = heif._heif_image_get_height(image, CHANNEL_INTERLEAVED);
      if (w !== expectWidth || h !== expectHeight) throw new CodecError("corrupt", `HEIC decode gave ${w}×${h} pixels where its header says ${expectWidth}×${expectHeight}`);
      const plane = heif._heif_image_get_plane_readonly(image, CHANNEL_INTERLEAVED, scratch);
      const stride = new Int32Array(heif.HEAPU8.buffer, scratch, 1)[0];
      if (scale > 1) {
        averageInto(raster, heif.HEAPU8.subarray(plane, plane + stride * h), stride, x, y, w, h, layout, scale);
        heif._heif_image_release(image);
        return;
      }
      const left = Math.max(x, crop.left), right = Math.min(x + w, crop.left + layout.width);
      for (let row = Math.max(y, crop.top); row < Math.min(y + h, crop.top + layout.height) && left < right; row++) {
        const from = plane + (row - y) * stride + (left - x) * channels;
        raster.data.set(heif.HEAPU8.subarray(from, from + (right - left) * channels), ((row - crop.top) * layout.width + left - crop.left) * channels);
      }
      heif._heif_image_release(image);
    };
    if (layout.grid && !layout.hasAlpha) {
      const { rows, columns, tileWidth, tileHeight } = layout.grid;
      for (let ty = 0; ty < rows; ty++) {
        for (let tx = 0; tx < columns; tx++) {
          heif._heif_image_handle_decode_image_tile(scratch, handle, out, COLORSPACE_RGB, chroma, options, tx, ty);
          check(`decoding tile ${tx},${ty}`);
          place(tx * tileWidth, ty * tileHeight, tileWidth, tileHeight);
        }
      }
    } else {
      heif._heif_decode_image(scratch, handle, out, COLORSPACE_RGB, chroma, options);
      check("decoding the image");
      place(0, 0, layout.extent.width, layout.extent.height);
    }
    // The instance, its heap and everything in it become garbage with `codec`: no frees needed past this point.
  } catch (e) {
    throw asCodecError(e, "HEIC decode", codec.messages);
  }
  return { raster, decoderHeapBytes: codec.memory.buffer.byteLength };
}

/**
 * Averages a decoded tile placed at (x, y) into the 1/`scale` raster: each raster pixel is the mean of its
 * `scale × scale` block, clipped at the image's edges. Tiles are multiples of `scale`, so no block spans two.
 */
function averageInto(raster: Raster, plane: Uint8Array, stride: number, x: number, y: number, w: number, h: number, layout: HeicLayout, scale: number): void {
  const c = raster.channels;
  const span = Math.min(x + w, layout.width) - x, bottom = Math.min(y + h, layout.height);
  for (let by = y; by < bottom; by += scale) {
    const rows = Math.min(scale, bottom - by);
    let out = ((by / scale) * raster.width + x / scale) * c;
    for (let sx = 0; sx < span; sx += scale) {
      const end = Math.min(sx + scale, span);
      let r = 0, g = 0, b = 0, a = 0;
      for (let row = by - y; row < by - y + rows; row++) {
        for (let at = row * stride + sx * c, stop = row * stride + end * c; at < stop; at += c) {
          r += plane[at];
          g += plane[at + 1];
          b += plane[at + 2];
          if (c === 4) a += plane[at + 3];
        }
      }
      const count = rows * (end - sx);
      raster.data[out++] = (r + (count >> 1)) / count;
      raster.data[out++] = (g + (count >> 1)) / count;
      raster.data[out++] = (b + (count >> 1)) / count;
      if (c === 4) raster.data[out++] = (a + (count >> 1)) / count;
    }
  }
}
