/**
 * Streaming WebP lossless (VP8L, RFC 9649 section 3) decode with shrink-on-load, so that a 50 MP lossless WebP
 * never needs a full-size ARGB raster (libwebp allocates width × height × 4, 200 MB at 50 MP).
 *
 * Why it can stream: a backward reference reaches at most 1 048 456 pixels back (distance code 40's largest
 * value, less the 120 neighbourhood codes; those reach 7 rows + 8 pixels), so the entropy-coded pixels live in a
 * ring of ceil(maxDistance / width) + 1 rows; and every inverse transform needs only its own previous output
 * row besides its (subsampled, whole) transform image. Each finished row runs through the inverse transforms
 * (last read, first undone) and into a row sink (box-rows.ts) that box-averages it to the plan's scale.
 *
 * Hostile input: sizes come from the 14-bit header fields, code lengths and repeat counts are checked against
 * their alphabets, every prefix code must be complete, copies may not reach before the first pixel or past
 * the last, reading past the end of the bitstream is detected at each row, and the Huffman tables of all
 * prefix-code groups together are capped (HUFFMAN_TABLES_CAP_BYTES). Every failure is a CodecError.
 */
import { CodecError } from "../errors.ts";
import type { Raster } from "../raster.ts";
import { boxRowSink } from "./box-rows.ts";

const MiB = 1024 * 1024;

/** The VP8L header: the first 5 bytes of the bitstream. */
export interface Vp8lHeader {
  width: number;
  height: number;
  /** The encoder's hint that some alpha is not 255 (the decoder outputs the coded alpha either way). */
  alphaHint: boolean;
}

/** Largest distance a backward reference can take: distance code 40 with 18 extra bits, less the 120 plane codes. */
const MAX_LINEAR_DISTANCE = (3 << 18) + (1 << 18) - 120;
const CODE_TO_PLANE_CODES = 120;
const NUM_LITERAL_CODES = 256;
const NUM_LENGTH_CODES = 24;
const NUM_DISTANCE_CODES = 40;
const MAX_CACHE_BITS = 11;
const MAX_CODE_LENGTH = 15;
const ROOT_BITS = 8;

/**
 * Memory all prefix-code groups' lookup tables may take together: libwebp's encoder writes at most 2600 groups
 * of mostly small codes (a few KB each); a stream asking for more is refused as over a limit, not decoded.
 */
export const HUFFMAN_TABLES_CAP_BYTES = 12 * MiB;

/** The order in which code-length code lengths are stored (RFC 9649 3.7.2.1.2). */
const CODE_LENGTH_ORDER = [17, 18, 0, 1, 2, 3, 4, 5, 16, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

/** The 120 short distance codes as (dy << 4) | (8 - dx): the 2-D neighbourhood, nearest first (RFC 9649 3.6.2). */
const CODE_TO_PLANE = new Uint8Array([
  0x18, 0x07, 0x17, 0x19, 0x28, 0x06, 0x27, 0x29, 0x16, 0x1a, 0x26, 0x2a, 0x38, 0x05, 0x37, 0x39, 0x15, 0x1b, 0x36, 0x3a,
  0x25, 0x2b, 0x48, 0x04, 0x47, 0x49, 0x14, 0x1c, 0x35, 0x3b, 0x46, 0x4a, 0x24, 0x2c, 0x58, 0x45, 0x4b, 0x34, 0x3c, 0x03,
  0x57, 0x59, 0x13, 0x1d, 0x56, 0x5a, 0x23, 0x2d, 0x44, 0x4c, 0x55, 0x5b, 0x33, 0x3d, 0x68, 0x02, 0x67, 0x69, 0x12, 0x1e,
  0x66, 0x6a, 0x22, 0x2e, 0x54, 0x5c, 0x43, 0x4d, 0x65, 0x6b, 0x32, 0x3e, 0x78, 0x01, 0x77, 0x79, 0x53, 0x5d, 0x11, 0x1f,
  0x64, 0x6c, 0x42, 0x4e, 0x76, 0x7a, 0x21, 0x2f, 0x75, 0x7b, 0x31, 0x3f, 0x63, 0x6d, 0x52, 0x5e, 0x00, 0x74, 0x7c, 0x41,
  0x4f, 0x10, 0x20, 0x62, 0x6e, 0x30, 0x73, 0x7d, 0x51, 0x5f, 0x40, 0x72, 0x7e, 0x61, 0x6f, 0x50, 0x71, 0x7f, 0x60, 0x70,
]);

const corrupt = (what: string) => new CodecError("corrupt", `WebP lossless decode failed: ${what}`);

/** Reads the 5-byte VP8L header (signature 0x2f, 14-bit width−1 and height−1, alpha hint, version 0). */
export function readVp8lHeader(bitstream: Uint8Array): Vp8lHeader {
  if (bitstream.length < 5 || bitstream[0] !== 0x2f) throw corrupt("the bitstream does not start with the VP8L signature");
  const bits = (bitstream[1] | (bitstream[2] << 8) | (bitstream[3] << 16) | (bitstream[4] << 24)) >>> 0;
  if (bits >>> 29 !== 0) throw new CodecError("unsupported", `WebP lossless version ${bits >>> 29} (only version 0 exists)`);
  return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1, alphaHint: ((bits >>> 28) & 1) === 1 };
}

const subsampled = (size: number, bits: number) => Math.ceil(size / (1 << bits));

/** Rows of the ring that holds the entropy-coded pixels of a `width`-wide image: the reach of the farthest copy, plus the current row. */
function windowRows(width: number, height: number): number {
  const reach = Math.max(MAX_LINEAR_DISTANCE, 7 * width + 8);
  return Math.min(height, Math.ceil(reach / width) + 1);
}

/**
 * Working memory besides the input and the returned raster: the window ring, the sub-images, the prefix-code
 * tables, the transform rows and the sink's accumulators. With the stream's structure (`vp8lNeeds`) exact;
 * from the header alone its worst case: the predictor, colour-transform and entropy images at their finest
 * subsampling (1/4 a side, 4 bytes a pixel each) and the table cap.
 */
export function vp8lStreamWorkBytes(width: number, height: number, scale: number, needs?: Vp8lNeeds): number {
  const blocks = subsampled(width, 2) * subsampled(height, 2);
  // Without the structure, one row more than at full width: colour indexing narrows the coded rows, and the
  // ring rounds up to whole rows.
  const ring = needs ? windowRows(needs.codedWidth, height) * needs.codedWidth * 4 : Math.min(height, windowRows(width, height) + 1) * width * 4;
  const subImages = needs ? needs.subImageBytes : 3 * blocks * 4 + 256 * 4;
  const tables = needs ? needs.tableBytes : HUFFMAN_TABLES_CAP_BYTES;
  const rows = 2 * (width + 1) * 4; // the transform row, one previous row (one predictor transform at most)
  const accumulators = scale === 1 ? 0 : Math.ceil(width / scale) * 16;
  return ring + subImages + tables + rows + accumulators + SCRATCH_BYTES;
}

/** Colour caches (main image and a sub-image, 8 KiB each), the colour table, the renumbering of up to 65 536 groups. */
const SCRATCH_BYTES = 320 * 1024;

/** LSB-first bit reader over the bitstream; past its end it reads zeros and remembers that it did. */
class BitReader {
  private value = 0;
  private bits = 0;
  private pos = 0;
  private readonly data: Uint8Array;
  constructor(data: Uint8Array) {
    this.data = data;
  }

  /** Keeps at least 25 bits in `value`. */
  fill(): void {
    while (this.bits <= 24) {
      const b = this.pos < this.data.length ? this.data[this.pos] : 0;
      this.value |= b << this.bits;
      this.pos++;
      this.bits += 8;
    }
  }

  /** Reads `n` ≤ 24 bits. */
  read(n: number): number {
    this.fill();
    const v = this.value & ((1 << n) - 1);
    this.value = (this.value >>> n) | 0;
    this.bits -= n;
    return v;
  }

  /** Decodes one symbol with `code`. */
  symbol(code: PrefixCode): number {
    this.fill();
    let e = code.table[this.value & code.rootMask];
    let n = e >>> 16;
    if (n > code.rootBits) {
      this.value = (this.value >>> code.rootBits) | 0;
      this.bits -= code.rootBits;
      e = code.table[(e & 0xffff) + (this.value & ((1 << (n - code.rootBits)) - 1))];
      n = e >>> 16;
    }
    this.value = (this.value >>> n) | 0;
    this.bits -= n;
    return e & 0xffff;
  }

  /** True when more bits were consumed than the bitstream has. */
  get overrun(): boolean {
    return this.pos * 8 - this.bits > this.data.length * 8;
  }
}

/**
 * A canonical prefix code as a two-level lookup table (libwebp's layout): `table[bits & rootMask]` is either
 * (length << 16 | symbol), or, for longer codes, (rootBits + second-level bits) << 16 | the second table's start.
 */
interface PrefixCode {
  table: Uint32Array;
  rootBits: number;
  rootMask: number;
}

/** Builds the lookup table from code lengths; null when the lengths are not a complete prefix code. */
function buildPrefixCode(lengths: Uint8Array, alphabet: number): PrefixCode | null {
  const count = new Int32Array(MAX_CODE_LENGTH + 1);
  let used = 0, only = 0, maxLength = 0;
  for (let s = 0; s < alphabet; s++) {
    const l = lengths[s];
    if (l === 0) continue;
    count[l]++;
    used++;
    only = s;
    if (l > maxLength) maxLength = l;
  }
  if (used === 0) return null;
  // A single symbol is a zero-length code: it is decoded without reading any bit.
  if (used === 1) return { table: Uint32Array.of(only), rootBits: 0, rootMask: 0 };
  let left = 1;
  for (let l = 1; l <= MAX_CODE_LENGTH; l++) {
    left = (left << 1) - count[l];
    if (left < 0) return null; // over-subscribed
  }
  if (left !== 0) return null; // incomplete
  // Symbols sorted by (length, value): canonical code order.
  const offset = new Int32Array(MAX_CODE_LENGTH + 2);
  for (let l = 1; l <= MAX_CODE_LENGTH; l++) offset[l + 1] = offset[l] + count[l];
  const sorted = new Uint16Array(used);
  for (let s = 0; s < alphabet; s++) if (lengths[s]) sorted[offset[lengths[s]]++] = s;

  const rootBits = Math.min(ROOT_BITS, maxLength);
  const rootSize = 1 << rootBits;
  const entries: number[] = new Array(rootSize).fill(0);
  const replicate = (at: number, step: number, end: number, value: number) => {
    do { end -= step; entries[at + end] = value; } while (end > 0);
  };
  // The next code in bit-reversed (LSB-first) canonical order.
  const nextKey = (key: number, len: number) => {
    let step = 1 << (len - 1);
    while (key & step) step >>= 1;
    return step ? (key & (step - 1)) + step : key;
  };
  const remaining = Int32Array.from(count);
  let key = 0, i = 0;
  for (let len = 1, step = 2; len <= rootBits; len++, step <<= 1) {
    for (; remaining[len] > 0; remaining[len]--) {
      replicate(key, step, rootSize, (len << 16) | sorted[i++]);
      key = nextKey(key, len);
    }
  }
  let tableStart = 0, tableSize = rootSize, low = -1;
  const mask = rootSize - 1;
  for (let len = rootBits + 1, step = 2; len <= MAX_CODE_LENGTH; len++, step <<= 1) {
    for (; remaining[len] > 0; remaining[len]--) {
      if ((key & mask) !== low) {
        tableStart += tableSize;
        // The second table's size: as many bits as the codes sharing this root prefix need.
        let bits = len - rootBits, room = 1 << bits;
        for (let l = len; l < MAX_CODE_LENGTH; l++) {
          room -= remaining[l];
          if (room <= 0) break;
          bits++;
          room <<= 1;
        }
        tableSize = 1 << bits;
        for (let k = 0; k < tableSize; k++) entries.push(0);
        low = key & mask;
        entries[low] = ((bits + rootBits) << 16) | tableStart;
      }
      replicate(tableStart + (key >>> rootBits), step, tableSize, ((len - rootBits) << 16) | sorted[i++]);
      key = nextKey(key, len);
    }
  }
  return { table: Uint32Array.from(entries), rootBits, rootMask: rootSize - 1 };
}

/** The five prefix codes of one group: green + length + cache, red, blue, alpha, distance. */
interface PrefixGroup {
  green: PrefixCode;
  red: PrefixCode;
  blue: PrefixCode;
  alpha: PrefixCode;
  distance: PrefixCode;
}

/** Reads one prefix code (simple or normal form, RFC 9649 3.7.2.1) for an alphabet of `alphabet` symbols. */
function readPrefixCode(br: BitReader, alphabet: number, lengths: Uint8Array): PrefixCode {
  lengths.fill(0, 0, alphabet);
  if (br.read(1) === 1) {
    const symbols = br.read(1) + 1;
    const first = br.read(br.read(1) === 1 ? 8 : 1);
    if (first >= alphabet) throw corrupt(`a simple prefix code names symbol ${first} of a ${alphabet}-symbol alphabet`);
    lengths[first] = 1;
    if (symbols === 2) {
      const second = br.read(8);
      if (second >= alphabet) throw corrupt(`a simple prefix code names symbol ${second} of a ${alphabet}-symbol alphabet`);
      lengths[second] = 1;
    }
  } else {
    const codeLengthLengths = new Uint8Array(19);
    const n = br.read(4) + 4;
    for (let i = 0; i < n; i++) codeLengthLengths[CODE_LENGTH_ORDER[i]] = br.read(3);
    const lengthCode = buildPrefixCode(codeLengthLengths, 19);
    if (!lengthCode) throw corrupt("a code-length code is not a complete prefix code");
    let maxSymbol = alphabet;
    if (br.read(1) === 1) {
      const bits = 2 + 2 * br.read(3);
      maxSymbol = 2 + br.read(bits);
      if (maxSymbol > alphabet) throw corrupt(`a prefix code declares ${maxSymbol} code lengths for a ${alphabet}-symbol alphabet`);
    }
    let previous = 8;
    for (let s = 0; s < alphabet;) {
      if (maxSymbol-- === 0) break;
      const len = br.symbol(lengthCode);
      if (len < 16) {
        lengths[s++] = len;
        if (len !== 0) previous = len;
        continue;
      }
      const repeat = len === 16 ? 3 + br.read(2) : len === 17 ? 3 + br.read(3) : 11 + br.read(7);
      if (s + repeat > alphabet) throw corrupt(`a code-length repeat runs past the ${alphabet}-symbol alphabet`);
      lengths.fill(len === 16 ? previous : 0, s, s + repeat);
      s += repeat;
    }
  }
  const code = buildPrefixCode(lengths, alphabet);
  if (!code) throw corrupt("a prefix code is not complete (over-subscribed, incomplete or empty)");
  return code;
}

/** The five codes of `count` groups; only groups in `keep` (all when undefined) are kept, the others read past. */
function readPrefixGroups(br: BitReader, count: number, cacheBits: number, keep?: Int32Array, capBytes = HUFFMAN_TABLES_CAP_BYTES): PrefixGroup[] {
  const greenAlphabet = NUM_LITERAL_CODES + NUM_LENGTH_CODES + (cacheBits > 0 ? 1 << cacheBits : 0);
  const lengths = new Uint8Array(greenAlphabet);
  const groups: PrefixGroup[] = [];
  let tableBytes = 0;
  for (let g = 0; g < count; g++) {
    const group: PrefixGroup = {
      green: readPrefixCode(br, greenAlphabet, lengths),
      red: readPrefixCode(br, NUM_LITERAL_CODES, lengths),
      blue: readPrefixCode(br, NUM_LITERAL_CODES, lengths),
      alpha: readPrefixCode(br, NUM_LITERAL_CODES, lengths),
      distance: readPrefixCode(br, NUM_DISTANCE_CODES, lengths),
    };
    if (br.overrun) throw corrupt("the bitstream ends inside its prefix codes");
    if (keep && keep[g] < 0) continue;
    tableBytes += 4 * (group.green.table.length + group.red.table.length + group.blue.table.length + group.alpha.table.length + group.distance.table.length);
    if (tableBytes > capBytes) {
      throw new CodecError("limit", `WebP lossless: its prefix-code tables need over ${(capBytes / MiB).toFixed(1)} MiB (HUFFMAN_TABLES_CAP_BYTES)`);
    }
    groups.push(group);
  }
  return groups;
}

/** Value of a length or distance prefix symbol with its extra bits (RFC 9649 3.6.1). */
function prefixValue(br: BitReader, symbol: number): number {
  if (symbol < 4) return symbol + 1;
  const extra = (symbol - 2) >> 1;
  return ((2 + (symbol & 1)) << extra) + br.read(extra) + 1;
}

/** Per-pixel choice of prefix group: the entropy image and its subsampling, with group numbers renumbered densely. */
interface GroupMap {
  bits: number;
  width: number;
  groupOf: Int32Array;
}

/** Where decoded entropy-coded rows go: the ring row `argb[at .. at + width)` is row `y`. */
type RowHandler = (argb: Int32Array, at: number, y: number) => void;

/**
 * Decodes the entropy-coded pixels of a `width × height` image into a ring of `ringRows` rows, calling
 * `onRow` as each row is finished (before its ring slot is reused).
 */
function decodePixels(
  br: BitReader, width: number, height: number, ringRows: number,
  groups: PrefixGroup[], map: GroupMap | undefined, cacheBits: number,
  references: { count: number; farthest: number } | undefined, onRow: RowHandler,
): Int32Array {
  const ring = new Int32Array(ringRows * width);
  const ringSize = ring.length;
  const cache = cacheBits > 0 ? new Int32Array(1 << cacheBits) : undefined;
  const cacheShift = 32 - cacheBits;
  const mask = map ? (1 << map.bits) - 1 : -1;
  const total = width * height;
  let group = groups[0];
  let x = 0, y = 0, w = 0, decoded = 0;
  const groupAt = (gx: number, gy: number) => groups[map!.groupOf[(gy >> map!.bits) * map!.width + (gx >> map!.bits)]];
  const finishRow = () => {
    if (br.overrun) throw corrupt(`the bitstream ends before row ${y + 1} of ${height}`);
    onRow(ring, w - width, y);
    x = 0;
    y++;
    if (w === ringSize) w = 0;
  };
  while (decoded < total) {
    if (map && (x & mask) === 0) group = groupAt(x, y);
    const g = br.symbol(group.green);
    if (g < NUM_LITERAL_CODES) {
      const r = br.symbol(group.red), b = br.symbol(group.blue), a = br.symbol(group.alpha);
      const argb = ((a << 24) | (r << 16) | (g << 8) | b) | 0;
      ring[w++] = argb;
      if (cache) cache[Math.imul(argb, 0x1e35a7bd) >>> cacheShift] = argb;
      decoded++;
      if (++x === width) finishRow();
    } else if (g < NUM_LITERAL_CODES + NUM_LENGTH_CODES) {
      const length = prefixValue(br, g - NUM_LITERAL_CODES);
      const code = prefixValue(br, br.symbol(group.distance));
      let distance: number;
      if (code > CODE_TO_PLANE_CODES) distance = code - CODE_TO_PLANE_CODES;
      else {
        const plane = CODE_TO_PLANE[code - 1];
        distance = Math.max(1, (plane >> 4) * width + 8 - (plane & 0xf));
      }
      if (distance > decoded) throw corrupt(`a backward reference at pixel ${decoded} reaches ${distance} pixels back, before the image`);
      if (length > total - decoded) throw corrupt(`a backward reference of ${length} pixels at pixel ${decoded} runs past the image's ${total}`);
      if (references) {
        references.count++;
        if (distance > references.farthest) references.farthest = distance;
      }
      let src = w - distance;
      if (src < 0) src += ringSize;
      for (let k = 0; k < length; k++) {
        const argb = ring[src];
        ring[w++] = argb;
        if (++src === ringSize) src = 0;
        if (cache) cache[Math.imul(argb, 0x1e35a7bd) >>> cacheShift] = argb;
        if (++x === width) finishRow();
      }
      decoded += length;
      if (map && decoded < total) group = groupAt(x, y);
    } else {
      const index = g - NUM_LITERAL_CODES - NUM_LENGTH_CODES;
      if (!cache) throw corrupt("a colour-cache symbol without a colour cache");
      const argb = cache[index];
      ring[w++] = argb;
      cache[Math.imul(argb, 0x1e35a7bd) >>> cacheShift] = argb;
      decoded++;
      if (++x === width) finishRow();
    }
  }
  return ring;
}

/** Reads the optional colour-cache size (1 bit, then 4): 0 when there is none. */
function readCacheBits(br: BitReader): number {
  if (br.read(1) === 0) return 0;
  const bits = br.read(4);
  if (bits < 1 || bits > MAX_CACHE_BITS) throw corrupt(`a colour cache of ${bits} bits (1 to ${MAX_CACHE_BITS} are allowed)`);
  return bits;
}

/** What reading a stream's structure may allocate: the prefix-code tables, and the sub-images (planning only). */
interface StructureCaps {
  tableBytes: number;
  /** What the sub-images may still take; past it, `limit` (the planner then assumes the worst case). */
  subImageBytes: number;
}

/** A transform image, colour table or entropy image: one group, no transforms, decoded whole. */
function decodeSubImage(br: BitReader, width: number, height: number, caps: StructureCaps): Int32Array {
  if (width * height * 4 > caps.subImageBytes) throw new CodecError("limit", "WebP lossless: its transform images are over the planning read's cap");
  caps.subImageBytes -= width * height * 4;
  const cacheBits = readCacheBits(br);
  const groups = readPrefixGroups(br, 1, cacheBits);
  return decodePixels(br, width, height, height, groups, undefined, cacheBits, undefined, () => {});
}

type Transform =
  | { kind: "predictor"; width: number; bits: number; data: Int32Array }
  | { kind: "colour"; width: number; bits: number; data: Int32Array }
  | { kind: "subtract-green"; width: number }
  | { kind: "colour-indexing"; width: number; bits: number; table: Int32Array };

/**
 * Pixels are ARGB held as signed 32-bit integers (Int32Array, `| 0`): V8 keeps those unboxed, where values over
 * 2^31 (every opaque pixel, as unsigned) would be heap numbers.
 */
const ARGB_BLACK = 0xff000000 | 0;
/** Adds two ARGB pixels channel by channel, modulo 256. */
const addPixels = (a: number, b: number) => ((((a & 0xff00ff00) + (b & 0xff00ff00)) & 0xff00ff00) | (((a & 0x00ff00ff) + (b & 0x00ff00ff)) & 0x00ff00ff)) | 0;
/** Per-channel floor average. */
const average2 = (a: number, b: number) => ((((a ^ b) & 0xfefefefe) >>> 1) + (a & b)) | 0;
const clamp255 = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v);

function select(l: number, t: number, tl: number): number {
  // Manhattan distances of the gradient estimate L + T − TL to L and to T.
  let pl = 0, pt = 0;
  for (let s = 0; s < 32; s += 8) {
    const cl = (l >>> s) & 0xff, ct = (t >>> s) & 0xff, ctl = (tl >>> s) & 0xff;
    pl += Math.abs(ct - ctl);
    pt += Math.abs(cl - ctl);
  }
  return pl < pt ? l : t;
}

function clampAddSubtractFull(a: number, b: number, c: number): number {
  let out = 0;
  for (let s = 0; s < 32; s += 8) out |= clamp255(((a >>> s) & 0xff) + ((b >>> s) & 0xff) - ((c >>> s) & 0xff)) << s;
  return out | 0;
}

function clampAddSubtractHalf(a: number, b: number): number {
  let out = 0;
  for (let s = 0; s < 32; s += 8) {
    const ca = (a >>> s) & 0xff, cb = (b >>> s) & 0xff;
    out |= clamp255(ca + (((ca - cb) / 2) | 0)) << s;
  }
  return out | 0;
}

/**
 * Undoes the predictor transform on row `y` in place (RFC 9649 4.1: 14 modes; 14 and 15 predict black, as in
 * libwebp). `above` (width + 1) holds the previous row's output, then this one's; a block's pixels share a mode,
 * so each block runs one tight loop.
 */
function unpredictRow(row: Int32Array, above: Int32Array, y: number, t: { width: number; bits: number; data: Int32Array }): void {
  const { width, bits, data } = t;
  if (y === 0) {
    row[0] = addPixels(row[0], ARGB_BLACK);
    for (let x = 1; x < width; x++) row[x] = addPixels(row[x], row[x - 1]);
    above.set(row.subarray(0, width));
    return;
  }
  row[0] = addPixels(row[0], above[0]);
  // The rightmost pixel's top-right is the first pixel of its own row (libwebp's memory layout).
  above[width] = row[0];
  const blocks = (y >> bits) * subsampled(width, bits);
  for (let x = 1; x < width;) {
    const end = Math.min(width, ((x >> bits) + 1) << bits);
    const mode = (data[blocks + (x >> bits)] >>> 8) & 0xf;
    switch (mode) {
      case 1: for (; x < end; x++) row[x] = addPixels(row[x], row[x - 1]); break;
      case 2: for (; x < end; x++) row[x] = addPixels(row[x], above[x]); break;
      case 3: for (; x < end; x++) row[x] = addPixels(row[x], above[x + 1]); break;
      case 4: for (; x < end; x++) row[x] = addPixels(row[x], above[x - 1]); break;
      case 5: for (; x < end; x++) row[x] = addPixels(row[x], average2(average2(row[x - 1], above[x + 1]), above[x])); break;
      case 6: for (; x < end; x++) row[x] = addPixels(row[x], average2(row[x - 1], above[x - 1])); break;
      case 7: for (; x < end; x++) row[x] = addPixels(row[x], average2(row[x - 1], above[x])); break;
      case 8: for (; x < end; x++) row[x] = addPixels(row[x], average2(above[x - 1], above[x])); break;
      case 9: for (; x < end; x++) row[x] = addPixels(row[x], average2(above[x], above[x + 1])); break;
      case 10: for (; x < end; x++) row[x] = addPixels(row[x], average2(average2(row[x - 1], above[x - 1]), average2(above[x], above[x + 1]))); break;
      case 11: for (; x < end; x++) row[x] = addPixels(row[x], select(row[x - 1], above[x], above[x - 1])); break;
      case 12: for (; x < end; x++) row[x] = addPixels(row[x], clampAddSubtractFull(row[x - 1], above[x], above[x - 1])); break;
      case 13: for (; x < end; x++) row[x] = addPixels(row[x], clampAddSubtractHalf(average2(row[x - 1], above[x]), above[x - 1])); break;
      default: for (; x < end; x++) row[x] = addPixels(row[x], ARGB_BLACK);
    }
  }
  above.set(row.subarray(0, width));
}

const signed8 = (v: number) => (v << 24) >> 24;

function uncolourRow(row: Int32Array, y: number, t: { width: number; bits: number; data: Int32Array }): void {
  const { width, bits, data } = t;
  const blocks = (y >> bits) * subsampled(width, bits);
  for (let x = 0; x < width; x++) {
    const m = data[blocks + (x >> bits)];
    const greenToRed = signed8(m), greenToBlue = signed8(m >>> 8), redToBlue = signed8(m >>> 16);
    const argb = row[x];
    const green = signed8(argb >>> 8);
    const red = (((argb >>> 16) & 0xff) + ((greenToRed * green) >> 5)) & 0xff;
    const blue = ((argb & 0xff) + ((greenToBlue * green) >> 5) + ((redToBlue * signed8(red)) >> 5)) & 0xff;
    row[x] = ((argb & 0xff00ff00) | (red << 16) | blue) | 0;
  }
}

function addGreenRow(row: Int32Array, width: number): void {
  for (let x = 0; x < width; x++) {
    const argb = row[x], green = (argb >>> 8) & 0xff;
    row[x] = ((argb & 0xff00ff00) | ((((argb >>> 16) + green) & 0xff) << 16) | (((argb & 0xff) + green) & 0xff)) | 0;
  }
}

/** Expands bundled palette indices to colours, right to left so it can work in place. */
function unindexRow(row: Int32Array, t: { width: number; bits: number; table: Int32Array }): void {
  const { width, bits, table } = t;
  const perByte = 1 << bits, bitsPerIndex = 8 >> bits, indexMask = (1 << bitsPerIndex) - 1;
  for (let x = width - 1; x >= 0; x--) {
    const packed = (row[x >> bits] >>> 8) & 0xff;
    row[x] = table[(packed >>> ((x & (perByte - 1)) * bitsPerIndex)) & indexMask];
  }
}

function readTransforms(br: BitReader, width: number, height: number, caps: StructureCaps): { transforms: Transform[]; codedWidth: number } {
  const transforms: Transform[] = [];
  const seen = new Set<number>();
  let xsize = width;
  while (br.read(1) === 1) {
    const type = br.read(2);
    if (seen.has(type)) throw corrupt(`transform ${type} appears twice`);
    seen.add(type);
    if (type === 0 || type === 1) {
      const bits = br.read(3) + 2;
      const data = decodeSubImage(br, subsampled(xsize, bits), subsampled(height, bits), caps);
      transforms.push(type === 0 ? { kind: "predictor", width: xsize, bits, data } : { kind: "colour", width: xsize, bits, data });
    } else if (type === 2) {
      transforms.push({ kind: "subtract-green", width: xsize });
    } else {
      const size = br.read(8) + 1;
      const colours = decodeSubImage(br, size, 1, caps);
      // Entries past the table's size decode as transparent black, as libwebp pads it.
      const table = new Int32Array(256);
      table[0] = colours[0];
      for (let i = 1; i < size; i++) table[i] = addPixels(colours[i], table[i - 1]);
      const bits = size <= 2 ? 3 : size <= 4 ? 2 : size <= 16 ? 1 : 0;
      transforms.push({ kind: "colour-indexing", width: xsize, bits, table });
      xsize = subsampled(xsize, bits);
    }
    if (br.overrun) throw corrupt("the bitstream ends inside its transforms");
  }
  return { transforms, codedWidth: xsize };
}

/** What the bitstream uses, for tests and logs: the transforms in stream order, the colour cache, the prefix-code groups. */
export interface Vp8lStructure {
  transforms: Array<{ kind: Transform["kind"]; bits?: number }>;
  /** The predictor modes its predictor image uses (empty without one). */
  predictorModes: number[];
  colourCacheBits: number;
  /** Prefix-code groups in use (1 without an entropy image). */
  prefixGroups: number;
}

export interface ScaledVp8l {
  raster: Raster;
  /** Working memory the decode allocated besides the input and the raster (ring, transform images, tables, rows). */
  workBytes: number;
  structure: Vp8lStructure;
  /** The main image's backward references: how many, and the farthest distance in pixels. */
  references: { count: number; farthest: number };
}

function predictorModes(transforms: Transform[]): number[] {
  const predictor = transforms.find((t) => t.kind === "predictor");
  if (!predictor) return [];
  const modes = new Set<number>();
  for (const m of predictor.data) modes.add((m >>> 8) & 0xf);
  return [...modes].sort((a, b) => a - b);
}

/** Everything before the main image's pixels: header, transforms, colour cache, entropy image, prefix codes. */
function readStructure(bitstream: Uint8Array, br: BitReader, caps: StructureCaps) {
  const { width, height } = readVp8lHeader(bitstream);
  const { transforms, codedWidth } = readTransforms(br, width, height, caps);
  const cacheBits = readCacheBits(br);
  let map: GroupMap | undefined;
  let groupCount = 1;
  let keep: Int32Array | undefined;
  if (br.read(1) === 1) {
    const bits = br.read(3) + 2;
    const mapWidth = subsampled(codedWidth, bits);
    const image = decodeSubImage(br, mapWidth, subsampled(height, bits), caps);
    // Group numbers are 16 bits of the entropy image's red and green; only the ones used get tables.
    let largest = 0;
    for (let i = 0; i < image.length; i++) largest = Math.max(largest, (image[i] >>> 8) & 0xffff);
    groupCount = largest + 1;
    // Kept groups are numbered in stream order, as readPrefixGroups returns them.
    keep = new Int32Array(groupCount).fill(-1);
    for (let i = 0; i < image.length; i++) keep[(image[i] >>> 8) & 0xffff] = 0;
    for (let g = 0, dense = 0; g < groupCount; g++) if (keep[g] === 0) keep[g] = dense++;
    for (let i = 0; i < image.length; i++) image[i] = keep[(image[i] >>> 8) & 0xffff];
    map = { bits, width: mapWidth, groupOf: image };
  }
  const groups = readPrefixGroups(br, groupCount, cacheBits, keep, caps.tableBytes);
  let tableBytes = 0;
  for (const g of groups) for (const c of [g.green, g.red, g.blue, g.alpha, g.distance]) tableBytes += c.table.byteLength;
  const structure: Vp8lStructure = {
    transforms: transforms.map((t) => ("bits" in t ? { kind: t.kind, bits: t.bits } : { kind: t.kind })),
    predictorModes: predictorModes(transforms),
    colourCacheBits: cacheBits,
    prefixGroups: groups.length,
  };
  const subImageBytes = transforms.reduce((n, t) => n + ("data" in t ? t.data.byteLength : "table" in t ? t.table.byteLength : 0), 0) +
    (map?.groupOf.byteLength ?? 0);
  return { width, height, transforms, codedWidth, cacheBits, map, groups, tableBytes, subImageBytes, structure };
}

/** What a stream's structure needs besides its window, for the planner: known once its structure has been read. */
export interface Vp8lNeeds {
  /** Width of the entropy-coded rows (narrower than the image's with colour-indexing bundles). */
  codedWidth: number;
  /** Transform images, colour table and entropy image. */
  subImageBytes: number;
  tableBytes: number;
}

/** Sub-images a planning read of the structure may decode; a stream with larger ones is planned at its worst case. */
const PLANNING_SUBIMAGE_BYTES = 4 * MiB;

/**
 * Reads the structure of the stream in `bitstream` (at least its first bytes) to plan its decode exactly;
 * undefined when those bytes do not hold all of it, it is damaged, or its sub-images are over
 * PLANNING_SUBIMAGE_BYTES: the planner then takes the worst case the header allows.
 */
export function vp8lNeeds(bitstream: Uint8Array): Vp8lNeeds | undefined {
  const br = new BitReader(bitstream.subarray(5));
  try {
    const s = readStructure(bitstream, br, { tableBytes: HUFFMAN_TABLES_CAP_BYTES, subImageBytes: PLANNING_SUBIMAGE_BYTES });
    return br.overrun ? undefined : { codedWidth: s.codedWidth, subImageBytes: s.subImageBytes, tableBytes: s.tableBytes };
  } catch {
    return undefined;
  }
}

/** The stream's structure, read without decoding the main image. */
export function describeVp8l(bitstream: Uint8Array): Vp8lStructure {
  const br = new BitReader(bitstream.subarray(5));
  return truncationNamed(br, () => readStructure(bitstream, br, { tableBytes: HUFFMAN_TABLES_CAP_BYTES, subImageBytes: Infinity }).structure);
}

/**
 * Runs `decode`; a corrupt-stream error met after reading past the end of the bitstream (zeros, which decode
 * as anything) is reported as what it is: a truncated stream.
 */
function truncationNamed<T>(br: BitReader, decode: () => T): T {
  try {
    return decode();
  } catch (e) {
    if (e instanceof CodecError && e.kind === "corrupt" && br.overrun && !/ends/.test(e.message)) {
      throw corrupt(`the bitstream ends early (${e.message.replace(/^WebP lossless decode failed: /, "")})`);
    }
    throw e;
  }
}

/**
 * Decodes a VP8L bitstream (the VP8L chunk's body) at 1/`scale` (ceil of each side); RGBA when `keepAlpha`
 * and some pixel is not opaque, else RGB compacted in place (the buffer stays 4 bytes per pixel). The planner
 * counts HUFFMAN_TABLES_CAP_BYTES for the tables; `tableCapBytes` lowers it (tests).
 */
export function decodeVp8lScaled(bitstream: Uint8Array, scale: number, keepAlpha: boolean, tableCapBytes = HUFFMAN_TABLES_CAP_BYTES): ScaledVp8l {
  const br = new BitReader(bitstream.subarray(5));
  return truncationNamed(br, () => decodeStream(bitstream, br, scale, keepAlpha, tableCapBytes));
}

function decodeStream(bitstream: Uint8Array, br: BitReader, scale: number, keepAlpha: boolean, tableCapBytes: number): ScaledVp8l {
  const { width, height, transforms, codedWidth, cacheBits, map, groups, tableBytes, subImageBytes, structure } =
    readStructure(bitstream, br, { tableBytes: tableCapBytes, subImageBytes: Infinity });
  const sink = boxRowSink(width, height, scale);
  const row = new Int32Array(width);
  const predictor = transforms.find((t) => t.kind === "predictor");
  const above = predictor ? new Int32Array(predictor.width + 1) : undefined;
  const ringRows = windowRows(codedWidth, height);
  const references = { count: 0, farthest: 0 };
  decodePixels(br, codedWidth, height, ringRows, groups, map, cacheBits, references, (ring, at, y) => {
    row.set(ring.subarray(at, at + codedWidth));
    for (let i = transforms.length - 1; i >= 0; i--) {
      const t = transforms[i];
      if (t.kind === "predictor") unpredictRow(row, above!, y, t);
      else if (t.kind === "colour") uncolourRow(row, y, t);
      else if (t.kind === "subtract-green") addGreenRow(row, t.width);
      else unindexRow(row, t);
    }
    sink.add(row);
  });
  if (br.overrun) throw corrupt("the bitstream ends before the last pixel");

  const workBytes = ringRows * codedWidth * 4 + subImageBytes + tableBytes + row.byteLength + (above?.byteLength ?? 0) + sink.workBytes;
  return { raster: sink.finish(keepAlpha), workBytes, structure, references };
}
