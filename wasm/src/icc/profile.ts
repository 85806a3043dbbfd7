/**
 * ICC profile parsing (ICC.1:2010, which reads v2 profiles too): the header, the tag table, and the tags a
 * conversion to sRGB needs — rXYZ/gXYZ/bXYZ, wtpt, chad and rTRC/gTRC/bTRC for matrix/TRC profiles (Display P3,
 * Adobe RGB, ProPhoto), and A2B0/A2B1 as lut8 (mft1), lut16 (mft2) or lutAtoB (mAB) for CMYK and other LUT
 * profiles. A profile comes from an untrusted file: every size and offset is checked against the bytes and
 * against fixed caps before anything is allocated; anything wrong is CodecError("corrupt").
 */
import { CodecError } from "../errors.ts";

/** Largest profile we read. Real ones: 0.5 KB (matrix) to ~1 MB (press CMYK with text tags). */
export const MAX_ICC_PROFILE_BYTES = 4 * 1024 * 1024;
/** Largest CLUT (grid points ^ inputs × outputs) we accept; a press profile's A2B is 17^4 × 3 ≈ 250 k entries. */
const MAX_CLUT_ENTRIES = 2_000_000;
const MAX_CURVE_ENTRIES = 65536;
const MAX_TAGS = 200;

export type ColourSpace = "RGB" | "CMYK" | "GRAY" | "other";

/** A tone curve, evaluated on [0, 1]: a power law, a parametric function (types 0–4) or a sampled table. */
export type Curve =
  | { kind: "identity" }
  | { kind: "gamma"; gamma: number }
  | { kind: "parametric"; type: 0 | 1 | 2 | 3 | 4; params: number[] }
  | { kind: "table"; table: Float32Array };

export type Xyz = [number, number, number];

/** A multidimensional lookup table with its curves: the A2B side of a LUT profile, outputs in PCS units of [0, 1]. */
export interface LutTransform {
  inputs: number;
  outputs: number;
  /** Applied in order: input curves, CLUT, then (mAB) M curves and matrix, then output curves. */
  inputCurves: Curve[];
  grid: number[];
  /** Grid values in [0, 1], the last input varying fastest (ICC order), `outputs` per node. */
  clut: Float32Array;
  /** mAB only: M curves and the 3×4 matrix (3×3 + offset) between the CLUT and the B curves. */
  mCurves?: Curve[];
  matrix?: number[];
  outputCurves: Curve[];
  /** How the PCS is encoded in [0, 1]: lut16's legacy Lab (0xFF00 = L 100) differs from v4's. */
  pcsEncoding: "xyz" | "lab-v2" | "lab-v4";
}

export interface IccProfile {
  /** The profile's bytes, as found (kept into outputs with metadata=keep). */
  bytes: Uint8Array;
  version: number;
  colourSpace: ColourSpace;
  pcs: "XYZ" | "Lab";
  description?: string;
  /** Matrix/TRC: the colorants (D50-adapted, as the spec requires), and the three tone curves. */
  matrix?: { red: Xyz; green: Xyz; blue: Xyz; whitePoint?: Xyz };
  trc?: [Curve, Curve, Curve];
  /** GRAY: kTRC. */
  grayTrc?: Curve;
  /** A2B0 (perceptual, the intent sharp converts with), else A2B1. */
  a2b?: LutTransform;
}

const corrupt = (what: string) => new CodecError("corrupt", `ICC profile: ${what}`);

const sig = (b: Uint8Array, at: number) => String.fromCharCode(b[at], b[at + 1], b[at + 2], b[at + 3]);

/** Parses the profile's header, tag table and the tags conversion needs. Throws CodecError("corrupt"). */
export function parseIccProfile(bytes: Uint8Array): IccProfile {
  if (bytes.length < 132) throw corrupt(`${bytes.length} bytes, shorter than the 128-byte header and tag count`);
  if (bytes.length > MAX_ICC_PROFILE_BYTES) throw corrupt(`${bytes.length} bytes, over the ${MAX_ICC_PROFILE_BYTES}-byte limit`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const declared = view.getUint32(0);
  if (declared > bytes.length || declared < 132) throw corrupt(`header says ${declared} bytes, ${bytes.length} are present`);
  if (sig(bytes, 36) !== "acsp") throw corrupt("no 'acsp' signature");
  const p = bytes.subarray(0, declared);
  const space = sig(p, 16);
  const pcs = sig(p, 20);
  if (pcs !== "XYZ " && pcs !== "Lab ") throw corrupt(`connection space '${pcs}' is neither XYZ nor Lab`);
  const tagCount = view.getUint32(128);
  if (tagCount > MAX_TAGS || 132 + tagCount * 12 > declared) throw corrupt(`tag table of ${tagCount} entries does not fit`);
  const tags = new Map<string, Uint8Array>();
  for (let i = 0; i < tagCount; i++) {
    const at = 132 + i * 12;
    const offset = view.getUint32(at + 4), size = view.getUint32(at + 8);
    if (offset + size > declared || size < 8) throw corrupt(`tag '${sig(p, at)}' at ${offset}+${size} is outside the profile`);
    tags.set(sig(p, at), p.subarray(offset, offset + size));
  }
  const profile: IccProfile = {
    bytes: p,
    version: p[8],
    colourSpace: space === "RGB " ? "RGB" : space === "CMYK" ? "CMYK" : space === "GRAY" ? "GRAY" : "other",
    pcs: pcs === "XYZ " ? "XYZ" : "Lab",
    description: tags.has("desc") ? readText(tags.get("desc")!) : undefined,
  };
  const red = tags.get("rXYZ"), green = tags.get("gXYZ"), blue = tags.get("bXYZ");
  const rTrc = tags.get("rTRC"), gTrc = tags.get("gTRC"), bTrc = tags.get("bTRC");
  if (profile.colourSpace === "RGB" && red && green && blue && rTrc && gTrc && bTrc) {
    profile.matrix = { red: readXyz(red), green: readXyz(green), blue: readXyz(blue) };
    const wtpt = tags.get("wtpt");
    if (wtpt) profile.matrix.whitePoint = readXyz(wtpt);
    profile.trc = [readCurve(rTrc).curve, readCurve(gTrc).curve, readCurve(bTrc).curve];
  }
  const kTrc = tags.get("kTRC");
  if (profile.colourSpace === "GRAY" && kTrc) profile.grayTrc = readCurve(kTrc).curve;
  const a2b = tags.get("A2B0") ?? tags.get("A2B1");
  if (a2b && !profile.matrix) profile.a2b = readLut(a2b, profile.pcs);
  return profile;
}

/** Bradford chromatic adaptation from a profile's `chad` tag, when a caller wants to undo it (row-major 3×3). */
export function readChad(tag: Uint8Array): number[] {
  if (sig(tag, 0) !== "sf32" || tag.length < 8 + 36) throw corrupt("chad is not an sf32 array of 9 values");
  const v = new DataView(tag.buffer, tag.byteOffset, tag.byteLength);
  return Array.from({ length: 9 }, (_, i) => v.getInt32(8 + i * 4) / 65536);
}

function readXyz(tag: Uint8Array): Xyz {
  if (sig(tag, 0) !== "XYZ " || tag.length < 20) throw corrupt(`expected an XYZ tag of 20 bytes, got '${sig(tag, 0)}' of ${tag.length}`);
  const v = new DataView(tag.buffer, tag.byteOffset, tag.byteLength);
  return [v.getInt32(8) / 65536, v.getInt32(12) / 65536, v.getInt32(16) / 65536];
}

const PARA_COUNTS = [1, 3, 4, 5, 7];

/** A curv or para element at the start of `tag`, and its length (mAB packs several, 4-byte aligned). */
export function readCurve(tag: Uint8Array): { curve: Curve; length: number } {
  if (tag.length < 12) throw corrupt(`curve of ${tag.length} bytes`);
  const v = new DataView(tag.buffer, tag.byteOffset, tag.byteLength);
  const type = sig(tag, 0);
  if (type === "curv") {
    const n = v.getUint32(8);
    if (n > MAX_CURVE_ENTRIES || 12 + 2 * n > tag.length) throw corrupt(`curv of ${n} entries does not fit its ${tag.length} bytes`);
    const length = 12 + 2 * n;
    if (n === 0) return { curve: { kind: "identity" }, length };
    if (n === 1) return { curve: { kind: "gamma", gamma: v.getUint16(12) / 256 }, length };
    const table = new Float32Array(n);
    for (let i = 0; i < n; i++) table[i] = v.getUint16(12 + 2 * i) / 65535;
    return { curve: { kind: "table", table }, length };
  }
  if (type === "para") {
    const fn = v.getUint16(8);
    if (fn > 4) throw corrupt(`parametric curve of unknown type ${fn}`);
    const count = PARA_COUNTS[fn];
    if (12 + 4 * count > tag.length) throw corrupt(`parametric curve type ${fn} needs ${count} parameters`);
    const params = Array.from({ length: count }, (_, i) => v.getInt32(12 + 4 * i) / 65536);
    return { curve: { kind: "parametric", type: fn as 0 | 1 | 2 | 3 | 4, params }, length: 12 + 4 * count };
  }
  throw corrupt(`'${type}' is not a curve type (curv or para)`);
}

/** Evaluates a curve at x ∈ [0, 1] (clamped), as ICC.1 10.5 and 10.18 define them. */
export function evalCurve(c: Curve, x: number): number {
  x = x < 0 ? 0 : x > 1 ? 1 : x;
  switch (c.kind) {
    case "identity": return x;
    case "gamma": return Math.pow(x, c.gamma);
    case "table": {
      const t = c.table, pos = x * (t.length - 1), i = Math.min(t.length - 2, Math.floor(pos));
      return t[i] + (t[i + 1] - t[i]) * (pos - i);
    }
    case "parametric": {
      const [g, a = 1, b = 0, cc = 0, d = 0, e = 0, f = 0] = c.params;
      const pow = (base: number) => (base > 0 ? Math.pow(base, g) : 0);
      switch (c.type) {
        case 0: return pow(x);
        case 1: return a !== 0 && x >= -b / a ? pow(a * x + b) : 0;
        case 2: return a !== 0 && x >= -b / a ? pow(a * x + b) + cc : cc;
        case 3: return x >= d ? pow(a * x + b) : cc * x;
        case 4: return x >= d ? pow(a * x + b) + e : cc * x + f;
      }
    }
  }
}

function clutSize(grid: number[], outputs: number): number {
  let n = outputs;
  for (const g of grid) {
    if (g < 2) throw corrupt(`CLUT with ${g} grid points on an axis`);
    n *= g;
    if (n > MAX_CLUT_ENTRIES) throw corrupt(`CLUT over ${MAX_CLUT_ENTRIES} entries`);
  }
  return n;
}

function readLut(tag: Uint8Array, pcs: "XYZ" | "Lab"): LutTransform {
  const type = sig(tag, 0);
  const v = new DataView(tag.buffer, tag.byteOffset, tag.byteLength);
  if (tag.length < 12) throw corrupt(`${type} of ${tag.length} bytes`);
  const inputs = tag[8], outputs = tag[9];
  if (inputs < 1 || inputs > 4 || outputs !== 3) throw corrupt(`${type} with ${inputs} inputs and ${outputs} outputs (1–4 → 3 supported)`);
  if (type === "mft1" || type === "mft2") {
    const wide = type === "mft2";
    const points = tag[10];
    const inEntries = wide ? v.getUint16(48) : 256, outEntries = wide ? v.getUint16(50) : 256;
    if (wide && (inEntries < 2 || outEntries < 2 || inEntries > 4096 || outEntries > 4096)) throw corrupt(`mft2 curve tables of ${inEntries}/${outEntries} entries`);
    const grid = new Array<number>(inputs).fill(points);
    const clutEntries = clutSize(grid, outputs);
    const unit = wide ? 2 : 1, max = wide ? 65535 : 255;
    let at = wide ? 52 : 48;
    const need = at + unit * (inputs * inEntries + clutEntries + outputs * outEntries);
    if (need > tag.length) throw corrupt(`${type} needs ${need} bytes, has ${tag.length}`);
    const read = (i: number) => (wide ? v.getUint16(i) : tag[i]) / max;
    const table = (n: number): Curve => {
      const t = new Float32Array(n);
      for (let i = 0; i < n; i++, at += unit) t[i] = read(at);
      return { kind: "table", table: t };
    };
    const inputCurves = Array.from({ length: inputs }, () => table(inEntries));
    const clut = new Float32Array(clutEntries);
    for (let i = 0; i < clutEntries; i++, at += unit) clut[i] = read(at);
    const outputCurves = Array.from({ length: outputs }, () => table(outEntries));
    return { inputs, outputs, inputCurves, grid, clut, outputCurves, pcsEncoding: pcs === "XYZ" ? "xyz" : wide ? "lab-v2" : "lab-v4" };
  }
  if (type === "mAB ") {
    if (tag.length < 32) throw corrupt("mAB header is truncated");
    const [bOff, matOff, mOff, clutOff, aOff] = [12, 16, 20, 24, 28].map((o) => v.getUint32(o));
    for (const o of [bOff, matOff, mOff, clutOff, aOff]) if (o > tag.length) throw corrupt(`mAB element offset ${o} outside its ${tag.length} bytes`);
    const curves = (offset: number, n: number): Curve[] => {
      const out: Curve[] = [];
      let at = offset;
      for (let i = 0; i < n; i++) {
        const { curve, length } = readCurve(tag.subarray(at));
        out.push(curve);
        at += (length + 3) & ~3;
      }
      return out;
    };
    if (!bOff) throw corrupt("mAB without B curves");
    const outputCurves = curves(bOff, outputs);
    const inputCurves = aOff ? curves(aOff, inputs) : new Array<Curve>(inputs).fill({ kind: "identity" });
    let grid = new Array<number>(inputs).fill(2);
    let clut: Float32Array;
    if (clutOff) {
      if (clutOff + 20 > tag.length) throw corrupt("mAB CLUT header is truncated");
      grid = Array.from({ length: inputs }, (_, i) => tag[clutOff + i]);
      const precision = tag[clutOff + 16];
      if (precision !== 1 && precision !== 2) throw corrupt(`mAB CLUT precision ${precision}`);
      const n = clutSize(grid, outputs);
      if (clutOff + 20 + n * precision > tag.length) throw corrupt("mAB CLUT is truncated");
      clut = new Float32Array(n);
      for (let i = 0; i < n; i++) clut[i] = precision === 2 ? v.getUint16(clutOff + 20 + 2 * i) / 65535 : tag[clutOff + 20 + i] / 255;
    } else {
      if (inputs !== outputs) throw corrupt("mAB without a CLUT must have as many inputs as outputs");
      clut = identityClut(inputs);
    }
    let matrix: number[] | undefined, mCurves: Curve[] | undefined;
    if (matOff && mOff) {
      if (matOff + 48 > tag.length) throw corrupt("mAB matrix is truncated");
      matrix = Array.from({ length: 12 }, (_, i) => v.getInt32(matOff + 4 * i) / 65536);
      mCurves = curves(mOff, outputs);
    }
    return { inputs, outputs, inputCurves, grid, clut, mCurves, matrix, outputCurves, pcsEncoding: pcs === "XYZ" ? "xyz" : "lab-v4" };
  }
  throw corrupt(`A2B tag of type '${type}' (mft1, mft2 or mAB supported)`);
}

/** A 2-point-per-axis CLUT that passes its inputs through (3 → 3). */
function identityClut(n: number): Float32Array {
  const clut = new Float32Array(2 ** n * n);
  for (let node = 0; node < 2 ** n; node++) {
    for (let c = 0; c < n; c++) clut[node * n + c] = (node >> (n - 1 - c)) & 1;
  }
  return clut;
}

/** The profile's description (desc: ASCII; mluc: the first record, UTF-16BE), for recognising sRGB by name. */
function readText(tag: Uint8Array): string | undefined {
  const type = sig(tag, 0);
  const v = new DataView(tag.buffer, tag.byteOffset, tag.byteLength);
  if (type === "desc" && tag.length >= 12) {
    const n = Math.min(v.getUint32(8), tag.length - 12, 256);
    let s = "";
    for (let i = 0; i < n && tag[12 + i] !== 0; i++) s += String.fromCharCode(tag[12 + i]);
    return s;
  }
  if (type === "mluc" && tag.length >= 28) {
    const len = v.getUint32(20), off = v.getUint32(24);
    if (off + len > tag.length) return undefined;
    let s = "";
    for (let i = 0; i + 1 < Math.min(len, 512); i += 2) s += String.fromCharCode(v.getUint16(off + i));
    return s;
  }
  return undefined;
}
