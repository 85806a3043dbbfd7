// Baseline and progressive Huffman JPEG decoding with DCT-domain downscaling (1/1, 1/2, 1/4, 1/8).
//
// One instance decodes one image: state lives in module globals and the stub runtime's bump allocator
// is never reset. Errors are recorded with fail() and checked at block/MCU granularity; every loop is
// bounded by the frame's block count, so hostile input ends in an error, never a hang.
import { initIdct, idct8, idct4, idct2, fillFlat, aanScale } from "./idct";
import { CS_GRAY, CS_YCBCR, CS_RGB, CS_CMYK, CS_CMYK_INVERTED, CS_YCCK, grayRow, ycbcrRow, rgbRow, cmykRow, ycckRow, cmykInkRow, ycckInkRow } from "./color";

export const KIND_UNSUPPORTED: i32 = 1;
export const KIND_CORRUPT: i32 = 2;
export const KIND_LIMIT: i32 = 3;

let errKind: i32 = 0;
let errMsg: string = "";

function fail(kind: i32, msg: string): void {
  if (errKind == 0) {
    errKind = kind;
    errMsg = msg;
  }
}

export function errorKind(): i32 { return errKind; }
export function errorMessage(): string { return errMsg; }

// Zigzag position → natural (row-major) index.
const ZIGZAG: usize = memory.data<u8>([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
  12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
  35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
  58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
]);

// ---- input and bit reader -------------------------------------------------------------------------------

let data: usize = 0;
let end: usize = 0;
let pos: usize = 0;
// Bits are consumed MSB-first; the low `bitCnt` bits of bitBuf are valid.
let bitBuf: u64 = 0;
let bitCnt: i32 = 0;
// The reader stopped at a marker (or the end of data) and now feeds zero bits, as libjpeg does.
let hitMarker: bool = false;
// How many of the low bits of bitBuf are that zero padding. Once the decoder has consumed into it
// (bitCnt < padBits) the scan's data is used up: libjpeg's "insufficient data" state.
let padBits: i32 = 0;
// The current scan has no more data at all (used up, and no restart marker to resynchronise on): the rest
// of it is not decoded. This is what bounds the work of a tiny file claiming a huge frame.
let scanExhausted: bool = false;

@inline function starved(): bool { return bitCnt < padBits; }

function fill(): void {
  // Fast path: up to 7 bytes at once when none of the next 8 is 0xFF.
  if (!hitMarker && pos + 8 <= end) {
    const w = load<u64>(pos);
    const nw = ~w;
    if (((nw - 0x0101010101010101) & ~nw & 0x8080808080808080) == 0) {
      let nbytes = (64 - bitCnt) >> 3;
      if (nbytes > 7) nbytes = 7;
      const bits = <u64>(nbytes << 3);
      bitBuf = (bitBuf << bits) | (bswap<u64>(w) >> (64 - bits));
      bitCnt += <i32>bits;
      pos += <usize>nbytes;
      if (bitCnt > 56) return;
    }
  }
  while (bitCnt <= 56) {
    let b: u64 = 0;
    if (hitMarker || pos >= end) padBits += 8;
    else {
      const v = load<u8>(pos);
      if (v == 0xFF) {
        if (pos + 1 < end && load<u8>(pos + 1) == 0) {
          b = 0xFF;
          pos += 2;
        } else {
          hitMarker = true;
          padBits += 8;
        }
      } else {
        b = <u64>v;
        pos++;
      }
    }
    bitBuf = (bitBuf << 8) | b;
    bitCnt += 8;
  }
}

@inline function getBits(n: i32): i32 {
  if (bitCnt < n) fill();
  bitCnt -= n;
  return <i32>(bitBuf >> <u64>bitCnt) & ((1 << n) - 1);
}

@inline function getBit(): i32 {
  if (bitCnt < 1) fill();
  bitCnt--;
  return <i32>(bitBuf >> <u64>bitCnt) & 1;
}

@inline function extend(v: i32, s: i32): i32 {
  return v < (1 << (s - 1)) ? v - (1 << s) + 1 : v;
}

// ---- Huffman tables ------------------------------------------------------------------------------------
// Per table: an 11-bit lookahead LUT (u16: length << 8 | symbol, 0 = longer code), then maxcode[0..17] and
// valoffset[0..17] (i32) for the canonical slow path, then the 256 symbol values.
const LOOKAHEAD: i32 = 11;
const HT_MAXCODE: usize = 4096; // 2 << LOOKAHEAD
const HT_VALOFF: usize = 4168;
const HT_VALS: usize = 4240;
const HT_SIZE: usize = 4608;
const FAST_AC_SIZE: usize = 8192; // 4 << LOOKAHEAD
// Heap, not static data: the build starts modules with one 64 KiB page, which these would overflow.
let huffBase: usize = 0;
const huffDefined: usize = memory.data(8);
// AC tables also get a combined LUT: when code length + magnitude bits fit in the 11-bit peek, the entry holds
// the extended value (<< 16), the zero run (bits 8..11) and the total bits consumed (bits 0..3); 0 = slow.
let fastAcBase: usize = 0;

@inline function huffTable(ac: i32, id: i32): usize {
  return huffBase + <usize>((ac * 4 + id)) * HT_SIZE;
}

function buildHuffman(t: usize, counts: usize, vals: usize, nvals: i32): bool {
  memory.fill(t, 0, HT_SIZE);
  memory.copy(t + HT_VALS, vals, <usize>nvals);
  let code: i32 = 0;
  let k: i32 = 0;
  for (let l = 1; l <= 16; l++) {
    const n = <i32>load<u8>(counts + <usize>(l - 1));
    store<i32>(t + HT_VALOFF + <usize>(l << 2), k - code);
    store<i32>(t + HT_MAXCODE + <usize>(l << 2), n > 0 ? code + n - 1 : -1);
    if (n > 0) {
      // As libjpeg: the codes of each length must fit, and none may be all ones.
      if (code + n >= (1 << l)) {
        fail(KIND_CORRUPT, "corrupt JPEG: Huffman table has more codes than its code lengths allow");
        return false;
      }
      if (l <= LOOKAHEAD) {
        for (let i = 0; i < n; i++) {
          const entry = <u16>((l << 8) | <i32>load<u8>(vals + <usize>(k + i)));
          const first = (code + i) << (LOOKAHEAD - l);
          const count = 1 << (LOOKAHEAD - l);
          for (let j = 0; j < count; j++) store<u16>(t + <usize>((first + j) << 1), entry);
        }
      }
      code += n;
      k += n;
    }
    code <<= 1;
  }
  return true;
}

function buildFastAc(t: usize, f: usize): void {
  for (let peek = 0; peek < (1 << LOOKAHEAD); peek++) {
    const e = <i32>load<u16>(t + <usize>(peek << 1));
    let entry = 0;
    const l = e >> 8;
    const sz = e & 15;
    if (e != 0 && sz != 0 && l + sz <= LOOKAHEAD) {
      const bits = (peek >> (LOOKAHEAD - l - sz)) & ((1 << sz) - 1);
      entry = (extend(bits, sz) << 16) | ((e & 0xF0) << 4) | (l + sz);
    }
    store<i32>(f + <usize>(peek << 2), entry);
  }
}

function decodeSlow(t: usize): i32 {
  if (bitCnt < 16) fill();
  for (let l = LOOKAHEAD + 1; l <= 16; l++) {
    const code = <i32>(bitBuf >> <u64>(bitCnt - l)) & ((1 << l) - 1);
    if (code <= load<i32>(t + HT_MAXCODE + <usize>(l << 2))) {
      bitCnt -= l;
      return <i32>load<u8>(t + HT_VALS + <usize>((load<i32>(t + HT_VALOFF + <usize>(l << 2)) + code) & 255));
    }
  }
  fail(KIND_CORRUPT, "corrupt JPEG: invalid Huffman code in entropy-coded data");
  bitCnt -= 16;
  return 0;
}

@inline function decodeSym(t: usize): i32 {
  if (bitCnt < 16) fill();
  const e = <i32>load<u16>(t + <usize>((<i32>(bitBuf >> <u64>(bitCnt - LOOKAHEAD)) & ((1 << LOOKAHEAD) - 1)) << 1));
  if (e != 0) {
    bitCnt -= e >> 8;
    return e & 255;
  }
  return decodeSlow(t);
}

// ---- frame state ---------------------------------------------------------------------------------------

class Component {
  id: i32 = 0;
  h: i32 = 1;
  v: i32 = 1;
  tq: i32 = 0;
  dcTable: usize = 0;
  acTable: usize = 0;
  fastAc: usize = 0;
  pred: i32 = 0;
  /** Blocks actually covering the component (non-interleaved scan extent). */
  bw: i32 = 0;
  bh: i32 = 0;
  /** Blocks in the MCU-padded grid. */
  pbw: i32 = 0;
  pbh: i32 = 0;
  /** K×K dequantization table (i32), latched at the component's first scan. */
  qt: usize = 0;
  /** The DC quantizer, for flat blocks. */
  q0: i32 = 0;
  /** Kept K×K coefficients per block (i16), progressive / multi-scan only. */
  coefs: usize = 0;
  /** Per block u64, bit k = zigzag coefficient k is nonzero, for coefficients not kept (1/2, 1/4). */
  mask: usize = 0;
  /** One MCU row of output-scale samples, and a row for horizontal upsampling. */
  strip: usize = 0;
  stride: i32 = 0;
  row: usize = 0;
  /** Factor-2 chroma gets the triangle filter in that direction. */
  fancyH: bool = false;
  fancyV: bool = false;
  /** The previous strip's last row, and i16 scratch for the vertical filter. */
  prevLast: usize = 0;
  colsum: usize = 0;
}

const comps = new Array<Component>(4);
let ncomp: i32 = 0;
let width: i32 = 0;
let height: i32 = 0;
let progressive: bool = false;
let frameSeen: bool = false;
let anyFancyV: bool = false;
let hmax: i32 = 1;
let vmax: i32 = 1;
let mcusX: i32 = 0;
let mcusY: i32 = 0;
let restartInterval: i32 = 0;
let colorSpace: i32 = CS_YCBCR;
/** Bytes a pixel of the output: 3 (RGB), or 4 for a four-component image kept as CMYK ink. */
let outChannels: i32 = 3;
let maxPixels: f64 = 0;

// Output scale: K×K coefficients kept per block, K×K pixels produced per block.
let K: i32 = 8;
let KK: i32 = 64;
/** Zigzag index → position in the kept K×K block, or −1. */
const keepIdx: usize = memory.data(128 * 4, 16); // entries 64.. stay −1: run overshoot in corrupt data
let useMask: bool = false;

let outW: i32 = 0;
let outH: i32 = 0;
let outPtr: usize = 0;

// Quantization tables in natural order (u16), and which are defined.
const qtabs: usize = memory.data(4 * 64 * 2, 16);
const qDefined: usize = memory.data(4);

let buffersReady: bool = false;
let streaming: bool = false;
let scanCount: i32 = 0;
const MAX_SCANS: i32 = 256;
// Block visits of all scans together, in passes over every block of the frame. EOB runs let a few bytes of
// a scan cover the whole frame, so a 44 KB file of 250 refinement scans over a 100 MP frame would otherwise
// take minutes. Real progressive files make about 5 passes (libjpeg's default script), mozjpeg's under 10.
const MAX_PASSES: f64 = 32;
let blockVisits: f64 = 0;
let anyScan: bool = false;
let emitted: bool = false;

// Scratch block for streaming decode: K×K i16.
const blockBuf: usize = memory.data(128, 16);

// Current scan.
const scanComps = new Array<Component>(4);
let ns: i32 = 0;
let ss: i32 = 0;
let se: i32 = 63;
let ah: i32 = 0;
let al: i32 = 0;
let eobrun: i32 = 0;

export function outputPtr(): usize { return outPtr; }
export function outputWidth(): i32 { return outW; }
export function outputHeight(): i32 { return outH; }

/**
 * Allocates with the memory grown to exactly what is needed (plus one page of slack for small objects):
 * the stub allocator would otherwise double the whole memory on growth, which the 128 MB budget can't
 * afford. Returns 0 (and records a limit error) if the memory can't grow.
 */
function allocExact(n: usize): usize {
  if (n > 0x3FFFFF00) { fail(KIND_LIMIT, "decode buffer above 1 GiB"); return 0; }
  const top = heap.alloc(0);
  const need = top + n + 0x10000 + 64;
  const have = <usize>memory.size() << 16;
  if (need > have && memory.grow(<i32>((need - have + 0xFFFF) >>> 16)) < 0) {
    fail(KIND_LIMIT, "out of memory for decode buffers");
    return 0;
  }
  return heap.alloc(n);
}

/** Bytes allocated on the wasm heap for the caller's input; 0 if memory can't grow. */
export function alloc(n: i32): usize {
  return allocExact(<usize>n);
}

// ---- segment parsing -----------------------------------------------------------------------------------

@inline function u16be(p: usize): i32 {
  return (<i32>load<u8>(p) << 8) | <i32>load<u8>(p + 1);
}

function parseDQT(p: usize, segEnd: usize): void {
  while (p < segEnd) {
    const pq = <i32>load<u8>(p) >> 4;
    const tq = <i32>load<u8>(p) & 15;
    p++;
    if (tq > 3 || pq > 1) { fail(KIND_CORRUPT, "corrupt JPEG: bad quantization table header"); return; }
    const n: usize = pq ? 128 : 64;
    if (p + n > segEnd) { fail(KIND_CORRUPT, "corrupt JPEG: truncated quantization table"); return; }
    const t = qtabs + <usize>(tq * 128);
    for (let k = 0; k < 64; k++) {
      const v = pq ? u16be(p + <usize>(k * 2)) : <i32>load<u8>(p + <usize>k);
      store<u16>(t + (<usize>load<u8>(ZIGZAG + <usize>k) << 1), <u16>v);
    }
    store<u8>(qDefined + <usize>tq, 1);
    p += n;
  }
}

function parseDHT(p: usize, segEnd: usize): void {
  while (p < segEnd) {
    if (p + 17 > segEnd) { fail(KIND_CORRUPT, "corrupt JPEG: truncated Huffman table"); return; }
    const tc = <i32>load<u8>(p) >> 4;
    const th = <i32>load<u8>(p) & 15;
    if (tc > 1 || th > 3) { fail(KIND_CORRUPT, "corrupt JPEG: bad Huffman table class or id"); return; }
    let total = 0;
    for (let i = 1; i <= 16; i++) total += <i32>load<u8>(p + <usize>i);
    if (total > 256 || p + 17 + <usize>total > segEnd) {
      fail(KIND_CORRUPT, "corrupt JPEG: Huffman table symbol count exceeds its segment");
      return;
    }
    if (!buildHuffman(huffTable(tc, th), p + 1, p + 17, total)) return;
    if (tc == 1) buildFastAc(huffTable(1, th), fastAcBase + <usize>th * FAST_AC_SIZE);
    store<u8>(huffDefined + <usize>(tc * 4 + th), 1);
    p += 17 + <usize>total;
  }
}

function parseSOF(p: usize, segEnd: usize, marker: i32): void {
  if (frameSeen) { fail(KIND_CORRUPT, "corrupt JPEG: more than one frame header"); return; }
  frameSeen = true;
  if (marker == 0xC3 || marker == 0xC7 || marker == 0xCB || marker == 0xCF) {
    fail(KIND_UNSUPPORTED, "unsupported JPEG: lossless coding"); return;
  }
  if (marker >= 0xC9) { fail(KIND_UNSUPPORTED, "unsupported JPEG: arithmetic coding"); return; }
  if (marker == 0xC5 || marker == 0xC6) { fail(KIND_UNSUPPORTED, "unsupported JPEG: hierarchical coding"); return; }
  progressive = marker == 0xC2;
  if (p + 6 > segEnd) { fail(KIND_CORRUPT, "corrupt JPEG: truncated frame header"); return; }
  const precision = <i32>load<u8>(p);
  if (precision != 8) { fail(KIND_UNSUPPORTED, "unsupported JPEG: " + precision.toString() + "-bit precision"); return; }
  height = u16be(p + 1);
  width = u16be(p + 3);
  ncomp = <i32>load<u8>(p + 5);
  if (width == 0) { fail(KIND_CORRUPT, "corrupt JPEG: image width is 0"); return; }
  if (height == 0) { fail(KIND_UNSUPPORTED, "unsupported JPEG: height defined by DNL marker"); return; }
  if (<f64>width * <f64>height > maxPixels) {
    fail(KIND_LIMIT, "image of " + width.toString() + "x" + height.toString() + " exceeds the pixel limit");
    return;
  }
  if (ncomp != 1 && ncomp != 3 && ncomp != 4) {
    fail(KIND_UNSUPPORTED, "unsupported JPEG: " + ncomp.toString() + " components"); return;
  }
  if (p + 6 + <usize>(ncomp * 3) > segEnd) { fail(KIND_CORRUPT, "corrupt JPEG: truncated frame header"); return; }
  hmax = 1; vmax = 1;
  for (let i = 0; i < ncomp; i++) {
    const c = new Component();
    const q = p + 6 + <usize>(i * 3);
    c.id = <i32>load<u8>(q);
    c.h = <i32>load<u8>(q + 1) >> 4;
    c.v = <i32>load<u8>(q + 1) & 15;
    c.tq = <i32>load<u8>(q + 2);
    if (c.h < 1 || c.h > 4 || c.v < 1 || c.v > 4) { fail(KIND_CORRUPT, "corrupt JPEG: sampling factor outside 1..4"); return; }
    if (c.tq > 3) { fail(KIND_CORRUPT, "corrupt JPEG: quantization table id outside 0..3"); return; }
    for (let j = 0; j < i; j++) {
      if (unchecked(comps[j]).id == c.id) { fail(KIND_CORRUPT, "corrupt JPEG: duplicate component id"); return; }
    }
    if (ncomp == 1) { c.h = 1; c.v = 1; } // a lone component is never interleaved: its MCU is one block
    if (c.h > hmax) hmax = c.h;
    if (c.v > vmax) vmax = c.v;
    unchecked(comps[i] = c);
  }
  for (let i = 0; i < ncomp; i++) {
    const c = unchecked(comps[i]);
    if (hmax % c.h != 0 || vmax % c.v != 0) {
      fail(KIND_UNSUPPORTED, "unsupported JPEG: sampling factors that do not divide the maximum"); return;
    }
  }
  mcusX = (width + 8 * hmax - 1) / (8 * hmax);
  mcusY = (height + 8 * vmax - 1) / (8 * vmax);
  for (let i = 0; i < ncomp; i++) {
    const c = unchecked(comps[i]);
    const cw = (width * c.h + hmax - 1) / hmax;
    const ch = (height * c.v + vmax - 1) / vmax;
    c.bw = (cw + 7) >> 3;
    c.bh = (ch + 7) >> 3;
    c.pbw = mcusX * c.h;
    c.pbh = mcusY * c.v;
  }
}

const UPSAMPLE_SLACK: u64 = 160;

/** Allocates output and per-component buffers once the first scan tells us whether we can stream. */
function setupBuffers(firstScanHasAll: bool): bool {
  streaming = !progressive && firstScanHasAll;
  useMask = progressive && (K == 2 || K == 4);
  const outBytes = <u64>outW * <u64>outH * <u64>outChannels;
  let coefBytes: u64 = 0;
  for (let i = 0; i < ncomp; i++) {
    const c = unchecked(comps[i]);
    coefBytes += <u64>c.pbw * <u64>c.pbh * <u64>(KK * 2 + (useMask ? 8 : 0));
  }
  if (streaming) coefBytes = 0;
  if (outBytes + coefBytes > 0xC0000000) { fail(KIND_LIMIT, "decode would need more than 3 GiB"); return false; }
  // One exact reservation for everything, then bump-allocate inside it.
  let total: u64 = outBytes + coefBytes;
  for (let i = 0; i < ncomp; i++) {
    const c = unchecked(comps[i]);
    total += <u64>(c.pbw * K * c.v * K) + <u64>(mcusX * hmax * K) + 64;
    total += UPSAMPLE_SLACK + <u64>(c.pbw * K) * 3 + 64; // prevLast + colsum (i16)
  }
  const base = allocExact(<usize>total);
  if (base == 0) return false;
  let p = base;
  outPtr = p;
  p += ((<usize>outBytes + 15) & ~15) + 16; // colour conversion stores may run 4 bytes past the end
  for (let i = 0; i < ncomp; i++) {
    const c = unchecked(comps[i]);
    c.stride = c.pbw * K;
    const stripBytes = <usize>(c.stride * c.v * K);
    c.strip = p;
    memory.fill(c.strip, 128, stripBytes);
    p += (stripBytes + 15) & ~15;
    c.row = p;
    p += (<usize>(mcusX * hmax * K) + 15) & ~15;
    c.fancyH = hmax / c.h == 2;
    c.fancyV = vmax / c.v == 2;
    if (c.fancyV) anyFancyV = true;
    // SIMD reads and writes run up to 16 samples past a row: strips, rows and prevLast all get slack.
    p += 32;
    c.prevLast = p;
    p += (<usize>c.stride + 15) & ~15;
    c.colsum = p;
    p += ((<usize>(c.stride * 2) + 15) & ~15) + 64;
    if (!streaming) {
      const n = <usize>c.pbw * <usize>c.pbh;
      // No zero fill: the bump allocator hands out memory that was never written (fresh from
      // memory.grow), and touching 36 MB of it here would only cost page faults.
      c.coefs = p;
      p += n * <usize>(KK * 2);
      if (useMask) {
        c.mask = p;
        p += n * 8;
      }
    }
  }
  buffersReady = true;
  return true;
}

function latchQuant(c: Component): bool {
  if (c.qt != 0) return true;
  if (load<u8>(qDefined + <usize>c.tq) == 0) {
    fail(KIND_CORRUPT, "corrupt JPEG: scan uses an undefined quantization table");
    return false;
  }
  c.qt = heap.alloc(<usize>(KK * 4));
  const src = qtabs + <usize>(c.tq * 128);
  for (let r = 0; r < K; r++) {
    for (let col = 0; col < K; col++) {
      const q = <i32>load<u16>(src + <usize>((r * 8 + col) * 2));
      // The 8×8 float IDCT takes the table pre-scaled (f32); the reduced ones take it as i32.
      if (K == 8) store<f32>(c.qt + <usize>((r * K + col) * 4), <f32>q * aanScale(r) * aanScale(col) * 0.125);
      else store<i32>(c.qt + <usize>((r * K + col) * 4), q);
    }
  }
  c.q0 = <i32>load<u16>(src);
  return true;
}

/** Parses an SOS header; returns false on error. */
function parseSOS(p: usize, segEnd: usize): bool {
  if (!frameSeen) { fail(KIND_CORRUPT, "corrupt JPEG: scan before frame header (missing SOF)"); return false; }
  // Every scan walks the whole block grid, so the scan count bounds the work a small hostile file can cause
  // (real progressive files have about 10; mozjpeg's most elaborate scripts stay far below 256).
  if (++scanCount > MAX_SCANS) { fail(KIND_CORRUPT, "corrupt JPEG: more than 256 scans"); return false; }
  ns = <i32>load<u8>(p);
  if (ns < 1 || ns > 4 || p + 4 + <usize>(ns * 2) > segEnd) { fail(KIND_CORRUPT, "corrupt JPEG: bad scan header"); return false; }
  let blocksPerMcu = 0;
  for (let i = 0; i < ns; i++) {
    const id = <i32>load<u8>(p + 1 + <usize>(i * 2));
    const tables = <i32>load<u8>(p + 2 + <usize>(i * 2));
    let found: Component | null = null;
    for (let j = 0; j < ncomp; j++) if (unchecked(comps[j]).id == id) found = unchecked(comps[j]);
    if (found == null) { fail(KIND_CORRUPT, "corrupt JPEG: scan references an unknown component"); return false; }
    const c = changetype<Component>(found);
    for (let j = 0; j < i; j++) if (scanComps[j] == c) { fail(KIND_CORRUPT, "corrupt JPEG: component repeated in scan"); return false; }
    const td = tables >> 4, ta = tables & 15;
    if (td > 3 || ta > 3) { fail(KIND_CORRUPT, "corrupt JPEG: Huffman table id outside 0..3"); return false; }
    c.dcTable = huffTable(0, td);
    c.acTable = huffTable(1, ta);
    c.fastAc = fastAcBase + <usize>ta * FAST_AC_SIZE;
    unchecked(scanComps[i] = c);
    blocksPerMcu += c.h * c.v;
  }
  const q = p + 1 + <usize>(ns * 2);
  ss = <i32>load<u8>(q);
  se = <i32>load<u8>(q + 1);
  ah = <i32>load<u8>(q + 2) >> 4;
  al = <i32>load<u8>(q + 2) & 15;
  if (ns > 1 && blocksPerMcu > 10) { fail(KIND_CORRUPT, "corrupt JPEG: more than 10 blocks per MCU"); return false; }
  if (progressive) {
    if (ss > se || se > 63 || (ss == 0 && se != 0) || (ss > 0 && ns != 1) || al > 13 || ah > 13) {
      fail(KIND_CORRUPT, "corrupt JPEG: invalid progressive scan parameters"); return false;
    }
  } else {
    ss = 0; se = 63; ah = 0; al = 0; // libjpeg ignores these for sequential scans too
  }
  // Tables this scan will actually use must exist.
  for (let i = 0; i < ns; i++) {
    const c = unchecked(scanComps[i]);
    const needDc = ss == 0 && ah == 0;
    const needAc = se > 0;
    if (needDc && load<u8>(huffDefined + <usize>((c.dcTable - huffBase) / HT_SIZE)) == 0) {
      fail(KIND_CORRUPT, "corrupt JPEG: scan uses an undefined DC Huffman table"); return false;
    }
    if (needAc && load<u8>(huffDefined + <usize>((c.acTable - huffBase) / HT_SIZE)) == 0) {
      fail(KIND_CORRUPT, "corrupt JPEG: scan uses an undefined AC Huffman table"); return false;
    }
    if (!latchQuant(c)) return false;
  }
  if (!buffersReady && !setupBuffers(ns == ncomp)) return false;
  // At 1/8 progressive AC scans are skipped unread and cost nothing.
  if (!(progressive && ss > 0 && K == 1)) {
    let frameBlocks: f64 = 0;
    for (let i = 0; i < ncomp; i++) frameBlocks += <f64>unchecked(comps[i]).pbw * <f64>unchecked(comps[i]).pbh;
    let scanBlocks: f64 = 0;
    if (ns == 1) scanBlocks = <f64>unchecked(scanComps[0]).bw * <f64>unchecked(scanComps[0]).bh;
    else scanBlocks = <f64>mcusX * <f64>mcusY * <f64>blocksPerMcu;
    blockVisits += scanBlocks;
    if (blockVisits > MAX_PASSES * frameBlocks + 1048576) {
      fail(KIND_LIMIT, "JPEG scans revisit the image more than 32 times (a progressive decoding bomb)");
      return false;
    }
  }
  return true;
}

// ---- entropy decoding ----------------------------------------------------------------------------------

function resetEntropy(): void {
  bitBuf = 0;
  bitCnt = 0;
  padBits = 0;
  scanExhausted = false;
  eobrun = 0;
  for (let i = 0; i < ncomp; i++) unchecked(comps[i]).pred = 0;
}

/** Byte-aligns at a restart interval boundary and consumes the RSTn marker if it is there. */
function processRestart(): void {
  bitBuf = 0;
  bitCnt = 0;
  padBits = 0;
  eobrun = 0;
  for (let i = 0; i < ncomp; i++) unchecked(comps[i]).pred = 0;
  while (pos + 1 < end) {
    if (load<u8>(pos) != 0xFF) { pos++; continue; }
    const m = <i32>load<u8>(pos + 1);
    if (m == 0xFF) { pos++; continue; }
    if (m >= 0xD0 && m <= 0xD7) { pos += 2; hitMarker = false; return; }
    if (m != 0) break; // some other marker: the rest of this scan is missing
    pos += 2;
  }
  hitMarker = true;
  scanExhausted = true;
}

/**
 * Whether the next unit (MCU or block) of the scan must be left undecoded, as libjpeg does once the data ran
 * out: with no restart interval the scan is over; with one, decoding resumes at the next RSTn marker.
 */
@inline function skipUnit(): bool {
  if (scanExhausted) return true;
  if (!starved()) return false;
  if (restartInterval == 0) scanExhausted = true;
  return true;
}

/** Mid-grey K×K block: the zero coefficients libjpeg leaves where the data ran out. */
function greyBlock(dst: usize, stride: i32): void {
  for (let y = 0; y < K; y++) memory.fill(dst + <usize>(y * stride), 128, <usize>K);
}

/** Sequential block: DC + AC, keeping only the coefficients the scale needs. Returns true if any kept AC != 0. */
function decodeBlockSeq(c: Component, blk: usize): bool {
  // The bit buffer lives in locals here (wasm globals are memory round-trips in V8); it is written back
  // around the rare refills and slow-path decodes.
  let s = decodeSym(c.dcTable);
  if (s > 15) { fail(KIND_CORRUPT, "corrupt JPEG: DC magnitude category above 15"); s = 0; }
  if (s) c.pred += extend(getBits(s), s);
  store<i16>(blk, <i16>c.pred);
  const act = c.acTable;
  const fast = c.fastAc;
  const skipAll = K == 1;
  let buf = bitBuf;
  let cnt = bitCnt;
  let anyAc = false;
  let k = 1;
  while (k < 64) {
    // One refill check per coefficient: a symbol plus its magnitude bits never exceed 32.
    if (cnt < 32) {
      bitCnt = cnt;
      bitBuf = buf;
      fill();
      buf = bitBuf;
      cnt = bitCnt;
    }
    const peek = <i32>(buf >> <u64>(cnt - LOOKAHEAD)) & ((1 << LOOKAHEAD) - 1);
    const fe = load<i32>(fast + <usize>(peek << 2));
    let v: i32;
    if (fe != 0) {
      cnt -= fe & 15;
      k += (fe >> 8) & 15;
      v = fe >> 16;
    } else {
      let rs = <i32>load<u16>(act + <usize>(peek << 1));
      if (rs != 0) {
        cnt -= rs >> 8;
      } else {
        bitCnt = cnt;
        bitBuf = buf;
        rs = decodeSlow(act);
        cnt = bitCnt;
      }
      rs &= 255;
      const sz = rs & 15;
      if (sz == 0) {
        if (rs != 0xF0) break;
        k += 16;
        continue;
      }
      k += rs >> 4;
      cnt -= sz;
      v = extend(<i32>(buf >> <u64>cnt) & ((1 << sz) - 1), sz);
    }
    if (!skipAll) {
      const idx = load<i32>(keepIdx + <usize>(k << 2));
      if (idx >= 0) {
        store<i16>(blk + <usize>(idx << 1), <i16>v);
        anyAc = true;
      }
    }
    k++;
  }
  bitCnt = cnt;
  bitBuf = buf;
  return anyAc;
}

function idctBlock(coef: usize, c: Component, dst: usize, stride: i32, anyAc: bool): void {
  const q = c.qt;
  if (!anyAc) { fillFlat(<i32>load<i16>(coef), c.q0, K, dst, stride); return; }
  if (K == 8) idct8(coef, q, dst, stride);
  else if (K == 4) idct4(coef, q, dst, stride);
  else idct2(coef, q, dst, stride);
}

@inline function blockHasAc(coef: usize): bool {
  if (K == 1) return false;
  if (K == 2) return (load<u32>(coef) >> 16) != 0 || load<u32>(coef, 4) != 0;
  if (K == 4) {
    return (load<u64>(coef) & 0xFFFFFFFFFFFF0000) != 0 || load<u64>(coef, 8) != 0 ||
      load<u64>(coef, 16) != 0 || load<u64>(coef, 24) != 0;
  }
  let acc = v128.and(v128.load(coef), i16x8.replace_lane(i16x8.splat(-1), 0, 0));
  for (let i = 1; i < 8; i++) acc = v128.or(acc, v128.load(coef + <usize>(i << 4)));
  return v128.any_true(acc);
}

/** Baseline interleaved scan decoded MCU row by MCU row straight into output pixels. */
function decodeStreamingScan(): void {
  const kk2 = <usize>(KK * 2);
  let mcu = 0;
  for (let my = 0; my < mcusY; my++) {
    if (scanExhausted) {
      // No data for any later MCU row: grey strips, converted row by row (work bounded by the output).
      for (let i = 0; i < ns; i++) {
        const c = unchecked(scanComps[i]);
        memory.fill(c.strip, 128, <usize>(c.stride * c.v * K));
      }
      emitRows(my);
      continue;
    }
    for (let mx = 0; mx < mcusX; mx++) {
      if (restartInterval > 0 && mcu > 0 && mcu % restartInterval == 0) processRestart();
      mcu++;
      const skip = skipUnit();
      for (let i = 0; i < ns; i++) {
        const c = unchecked(scanComps[i]);
        for (let by = 0; by < c.v; by++) {
          for (let bx = 0; bx < c.h; bx++) {
            if (skip) {
              greyBlock(c.strip + <usize>(by * K * c.stride + (mx * c.h + bx) * K), c.stride);
              continue;
            }
            const anyAc = decodeBlockSeq(c, blockBuf);
            const dst = c.strip + <usize>(by * K * c.stride + (mx * c.h + bx) * K);
            idctBlock(blockBuf, c, dst, c.stride, anyAc);
            memory.fill(blockBuf, 0, kk2);
          }
        }
      }
      if (errKind != 0) return;
    }
    emitRows(my);
  }
  emitted = true;
}

// Progressive helper on the kept store: coefficient k (zigzag) of the block at `blk`, mask at `msk`.
@inline function setCoef(blk: usize, msk: usize, k: i32, v: i32): void {
  const idx = load<i32>(keepIdx + <usize>(k << 2));
  if (idx >= 0) store<i16>(blk + <usize>(idx << 1), <i16>v);
  else if (useMask) store<u64>(msk, load<u64>(msk) | (<u64>1 << <u64>k));
}

/** Decodes one block of the current scan into the coefficient store. */
function decodeStoredBlock(c: Component, bi: i32): void {
  const blk = c.coefs + <usize>bi * <usize>(KK * 2);
  const msk = c.mask + <usize>bi * 8;
  if (!progressive) {
    memory.fill(blockBuf, 0, <usize>(KK * 2));
    decodeBlockSeq(c, blockBuf);
    memory.copy(blk, blockBuf, <usize>(KK * 2));
    return;
  }
  if (ss == 0) {
    if (ah == 0) {
      let s = decodeSym(c.dcTable);
      if (s > 15) { fail(KIND_CORRUPT, "corrupt JPEG: DC magnitude category above 15"); s = 0; }
      if (s) c.pred += extend(getBits(s), s);
      store<i16>(blk, <i16>(c.pred << al));
    } else if (getBit() != 0) {
      store<i16>(blk, <i16>(<i32>load<i16>(blk) | (1 << al)));
    }
    return;
  }
  const act = c.acTable;
  if (ah == 0) {
    if (eobrun > 0) { eobrun--; return; }
    // Same local bit buffer and combined LUT as the sequential decoder; EOB runs take the table path.
    const fast = c.fastAc;
    let buf = bitBuf;
    let cnt = bitCnt;
    let k = ss;
    while (k <= se) {
      if (cnt < 32) {
        bitCnt = cnt;
        bitBuf = buf;
        fill();
        buf = bitBuf;
        cnt = bitCnt;
      }
      const peek = <i32>(buf >> <u64>(cnt - LOOKAHEAD)) & ((1 << LOOKAHEAD) - 1);
      const fe = load<i32>(fast + <usize>(peek << 2));
      let v: i32;
      if (fe != 0) {
        cnt -= fe & 15;
        k += (fe >> 8) & 15;
        v = fe >> 16;
      } else {
        let rs = <i32>load<u16>(act + <usize>(peek << 1));
        if (rs != 0) {
          cnt -= rs >> 8;
        } else {
          bitCnt = cnt;
          bitBuf = buf;
          rs = decodeSlow(act);
          cnt = bitCnt;
        }
        const r = (rs >> 4) & 15;
        const sz = rs & 15;
        if (sz == 0) {
          if (r < 15) {
            eobrun = (1 << r) - 1;
            if (r) {
              cnt -= r;
              eobrun += <i32>(buf >> <u64>cnt) & ((1 << r) - 1);
            }
            break;
          }
          k += 16;
          continue;
        }
        k += r;
        cnt -= sz;
        v = extend(<i32>(buf >> <u64>cnt) & ((1 << sz) - 1), sz);
      }
      if (k > 63) break;
      setCoef(blk, msk, k, v << al);
      k++;
    }
    bitCnt = cnt;
    bitBuf = buf;
    return;
  }
  // A block inside an EOB run with no nonzero coefficient has no correction bits: nothing to do. Checked in
  // O(1) so that runs over a huge, empty frame cost little.
  if (eobrun > 0 && blockIsZero(blk, msk)) { eobrun--; return; }
  // Successive-approximation refinement of AC coefficients (T.81 G.1.2.3), on the local bit buffer.
  // A coefficient's "history" is its kept value, or its mask bit when the scale discards it.
  const p1 = 1 << al;
  let buf = bitBuf;
  let cnt = bitCnt;
  let k = ss;
  if (eobrun == 0) {
    while (k <= se) {
      if (cnt < 32) {
        bitCnt = cnt; bitBuf = buf; fill(); buf = bitBuf; cnt = bitCnt;
      }
      const peek = <i32>(buf >> <u64>(cnt - LOOKAHEAD)) & ((1 << LOOKAHEAD) - 1);
      let rs = <i32>load<u16>(act + <usize>(peek << 1));
      if (rs != 0) {
        cnt -= rs >> 8;
      } else {
        bitCnt = cnt; bitBuf = buf;
        rs = decodeSlow(act);
        cnt = bitCnt;
      }
      let r = (rs >> 4) & 15;
      const s0 = rs & 15;
      let value = 0;
      if (s0 != 0) {
        cnt--;
        value = (<i32>(buf >> <u64>cnt) & 1) != 0 ? p1 : -p1;
      } else if (r != 15) {
        eobrun = 1 << r;
        if (r) {
          cnt -= r;
          eobrun += <i32>(buf >> <u64>cnt) & ((1 << r) - 1);
        }
        break;
      }
      while (k <= se) {
        const idx = load<i32>(keepIdx + <usize>(k << 2));
        const a = blk + <usize>(idx << 1);
        const nz = idx >= 0 ? load<i16>(a) != 0 : useMask && ((load<u64>(msk) >> <u64>k) & 1) != 0;
        if (nz) {
          if (cnt < 1) {
            bitCnt = cnt; bitBuf = buf; fill(); buf = bitBuf; cnt = bitCnt;
          }
          cnt--;
          if ((<i32>(buf >> <u64>cnt) & 1) != 0 && idx >= 0) {
            const v = <i32>load<i16>(a);
            if ((v & p1) == 0) store<i16>(a, <i16>(v >= 0 ? v + p1 : v - p1));
          }
        } else {
          if (r == 0) break;
          r--;
        }
        k++;
      }
      if (value != 0 && k <= se) setCoef(blk, msk, k, value);
      k++;
    }
  }
  if (eobrun > 0) {
    for (; k <= se; k++) {
      const idx = load<i32>(keepIdx + <usize>(k << 2));
      const a = blk + <usize>(idx << 1);
      const nz = idx >= 0 ? load<i16>(a) != 0 : useMask && ((load<u64>(msk) >> <u64>k) & 1) != 0;
      if (!nz) continue;
      if (cnt < 1) {
        bitCnt = cnt; bitBuf = buf; fill(); buf = bitBuf; cnt = bitCnt;
      }
      cnt--;
      if ((<i32>(buf >> <u64>cnt) & 1) != 0 && idx >= 0) {
        const v = <i32>load<i16>(a);
        if ((v & p1) == 0) store<i16>(a, <i16>(v >= 0 ? v + p1 : v - p1));
      }
    }
    eobrun--;
  }
  bitCnt = cnt;
  bitBuf = buf;
}

/** No kept coefficient and no mask bit set (the AC refinement history of the block is empty). */
function blockIsZero(blk: usize, msk: usize): bool {
  const bytes = <usize>(KK * 2);
  let acc: u64 = useMask ? load<u64>(msk) : 0;
  for (let o: usize = 0; o < bytes; o += 8) acc |= load<u64>(blk + o);
  return acc == 0;
}

/** Skips a scan's entropy-coded data up to the next non-RST marker. */
function skipScan(): void {
  while (pos + 1 < end) {
    if (load<u8>(pos) == 0xFF) {
      const m = <i32>load<u8>(pos + 1);
      if (m != 0 && m != 0xFF && (m < 0xD0 || m > 0xD7)) return;
      pos += m == 0xFF ? 1 : 2;
      continue;
    }
    pos++;
  }
  pos = end;
}

function decodeStoredScan(): void {
  // At 1/8 only DC is kept, and no later scan's refinement of AC can reach it: AC scans are skipped.
  if (progressive && ss > 0 && K == 1) { skipScan(); return; }
  // Units left undecoded keep what earlier scans stored (zero, i.e. mid-grey, if none did).
  let unit = 0;
  if (ns == 1) {
    const c = unchecked(scanComps[0]);
    for (let by = 0; by < c.bh; by++) {
      for (let bx = 0; bx < c.bw; bx++) {
        if (restartInterval > 0 && unit > 0 && unit % restartInterval == 0) processRestart();
        unit++;
        if (skipUnit()) {
          if (scanExhausted) return;
          continue;
        }
        if (progressive && ah == 0 && ss > 0 && eobrun > 0) {
          // Blocks in the EOB run of a first AC pass are left as they are: jump over them, within this block
          // row and this restart interval.
          let n = min(eobrun, c.bw - bx);
          if (restartInterval > 0) n = min(n, restartInterval - (unit - 1) % restartInterval);
          eobrun -= n;
          unit += n - 1;
          bx += n - 1;
          continue;
        }
        decodeStoredBlock(c, by * c.pbw + bx);
      }
      if (errKind != 0) return;
    }
    return;
  }
  for (let my = 0; my < mcusY; my++) {
    for (let mx = 0; mx < mcusX; mx++) {
      if (restartInterval > 0 && unit > 0 && unit % restartInterval == 0) processRestart();
      unit++;
      if (skipUnit()) {
        if (scanExhausted) return;
        continue;
      }
      for (let i = 0; i < ns; i++) {
        const c = unchecked(scanComps[i]);
        for (let by = 0; by < c.v; by++) {
          for (let bx = 0; bx < c.h; bx++) {
            decodeStoredBlock(c, (my * c.v + by) * c.pbw + mx * c.h + bx);
          }
        }
      }
    }
    if (errKind != 0) return;
  }
}

/** Inverse-transforms the coefficient store MCU row by MCU row into output pixels. */
function emitStored(): void {
  const kk2 = <usize>(KK * 2);
  for (let my = 0; my < mcusY; my++) {
    for (let i = 0; i < ncomp; i++) {
      const c = unchecked(comps[i]);
      if (c.qt == 0) continue; // component never appeared in a scan: leave mid-gray
      for (let by = 0; by < c.v; by++) {
        const brow = my * c.v + by;
        for (let bx = 0; bx < c.pbw; bx++) {
          const coef = c.coefs + <usize>(brow * c.pbw + bx) * kk2;
          const dst = c.strip + <usize>(by * K * c.stride + bx * K);
          idctBlock(coef, c, dst, c.stride, blockHasAc(coef));
        }
      }
    }
    emitRows(my);
  }
  emitted = true;
}

// ---- upsampling and colour conversion ------------------------------------------------------------------

// Chroma upsampling. Factor 2 (horizontally and/or vertically) uses libjpeg's "fancy" triangle filter,
// which weights the nearer sample 3/4 and the other 1/4, at every output scale; other factors replicate.
// The vertical filter needs the chroma row across MCU-row boundaries, so each MCU row's last output row is
// emitted only once the next MCU row is decoded, from `prevLast` (the previous strip's last row) kept per
// component.

/** Upsampled row of component `c` for output row `r` of the MCU row; `pending`: last row of the previous one. */
function componentRow(c: Component, r: i32, pending: bool, first: bool, last: bool): usize {
  const fh = hmax / c.h;
  let near: usize;
  let far: usize = 0;
  if (pending) {
    near = c.prevLast;
    far = c.strip; // the row below is the current strip's first
  } else {
    const ch = (r * c.v) / vmax;
    near = c.strip + <usize>(ch * c.stride);
    if (c.fancyV) {
      if ((r & 1) == 0) far = ch > 0 ? near - <usize>c.stride : first ? near : c.prevLast;
      else far = ch + 1 < c.v * K ? near + <usize>c.stride : near; // bottom edge: replicate
    }
  }
  if (!c.fancyV && !c.fancyH) {
    if (fh == 1) return near;
    return replicate(near, c.row, fh);
  }
  const srcW = (outW + fh - 1) / fh;
  // cs: 4× the vertically filtered sample (i16), with one replicated sample on either side.
  const cs = c.colsum + 2;
  let x = 0;
  if (c.fancyV) {
    const three = i16x8.splat(3);
    for (; x + 8 <= srcW; x += 8) {
      const a = i16x8.extend_low_i8x16_u(v128.load64_zero(near + <usize>x));
      const b = i16x8.extend_low_i8x16_u(v128.load64_zero(far + <usize>x));
      v128.store(cs + <usize>(x << 1), i16x8.add(i16x8.mul(a, three), b));
    }
    for (; x < srcW; x++) {
      store<i16>(cs + <usize>(x << 1), <i16>(3 * <i32>load<u8>(near + <usize>x) + <i32>load<u8>(far + <usize>x)));
    }
  } else {
    for (; x + 8 <= srcW; x += 8) {
      v128.store(cs + <usize>(x << 1), i16x8.shl(i16x8.extend_low_i8x16_u(v128.load64_zero(near + <usize>x)), 2));
    }
    for (; x < srcW; x++) store<i16>(cs + <usize>(x << 1), <i16>(<i32>load<u8>(near + <usize>x) << 2));
  }
  store<i16>(cs - 2, load<i16>(cs));
  store<i16>(cs + <usize>(srcW << 1), load<i16>(cs + <usize>((srcW - 1) << 1)));
  const dst = c.row;
  if (c.fancyH) {
    const three = i16x8.splat(3);
    const r8 = i16x8.splat(8);
    const r7 = i16x8.splat(7);
    for (let i = 0; i < srcW; i += 8) {
      const p = cs + <usize>(i << 1);
      const mid = i16x8.mul(v128.load(p), three);
      const even = i16x8.shr_s(i16x8.add(i16x8.add(mid, v128.load(p - 2)), r8), 4);
      const odd = i16x8.shr_s(i16x8.add(i16x8.add(mid, v128.load(p + 2)), r7), 4);
      const lo = v128.shuffle<i16>(even, odd, 0, 8, 1, 9, 2, 10, 3, 11);
      const hi = v128.shuffle<i16>(even, odd, 4, 12, 5, 13, 6, 14, 7, 15);
      v128.store(dst + <usize>(i << 1), i8x16.narrow_i16x8_u(lo, hi));
    }
    return dst;
  }
  // Vertical only: divide back down, then replicate horizontally if needed.
  const two = i16x8.splat(2);
  const tmp = c.colsum; // reuse the front of the buffer as bytes: it is read ahead of where it is written
  let i = 0;
  for (; i + 8 <= srcW; i += 8) {
    const v = i16x8.shr_s(i16x8.add(v128.load(cs + <usize>(i << 1)), two), 2);
    v128.store64_lane(tmp + <usize>i, i8x16.narrow_i16x8_u(v, v), 0);
  }
  for (; i < srcW; i++) store<u8>(tmp + <usize>i, <u8>((<i32>load<i16>(cs + <usize>(i << 1)) + 2) >> 2));
  if (fh == 1) return tmp;
  return replicate(tmp, dst, fh);
}

function replicate(src: usize, dst: usize, f: i32): usize {
  const n = outW;
  if (f == 2) {
    let x = 0;
    for (; x + 16 <= n; x += 16) {
      const v = v128.load64_zero(src + <usize>(x >> 1));
      v128.store(dst + <usize>x, i8x16.shuffle(v, v, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7));
    }
    for (let sx = x >> 1; x < n; x += 2, sx++) {
      const v = load<u8>(src + <usize>sx);
      store<u8>(dst + <usize>x, v);
      store<u8>(dst + <usize>x, v, 1);
    }
  } else {
    for (let x = 0; x < n; x++) store<u8>(dst + <usize>x, load<u8>(src + <usize>(x / f)));
  }
  return dst;
}

function emitRow(y: i32, r: i32, pending: bool, first: bool, last: bool): void {
  const out = outPtr + <usize>y * <usize>(outW * outChannels);
  const p0 = componentRow(unchecked(comps[0]), r, pending, first, last);
  if (ncomp == 1) { grayRow(p0, out, outW); return; }
  const p1 = componentRow(unchecked(comps[1]), r, pending, first, last);
  const p2 = componentRow(unchecked(comps[2]), r, pending, first, last);
  if (ncomp == 3) {
    if (colorSpace == CS_RGB) rgbRow(p0, p1, p2, out, outW);
    else ycbcrRow(p0, p1, p2, out, outW);
    return;
  }
  const p3 = componentRow(unchecked(comps[3]), r, pending, first, last);
  if (outChannels == 4) {
    if (colorSpace == CS_YCCK) ycckInkRow(p0, p1, p2, p3, out, outW);
    else cmykInkRow(p0, p1, p2, p3, out, outW, colorSpace == CS_CMYK_INVERTED);
    return;
  }
  if (colorSpace == CS_YCCK) ycckRow(p0, p1, p2, p3, out, outW);
  else cmykRow(p0, p1, p2, p3, out, outW, colorSpace == CS_CMYK_INVERTED);
}

/** Converts MCU row `my` (now in the strips) to output rows, holding back its last row if needed. */
function emitRows(my: i32): void {
  const rows = vmax * K;
  const y0 = my * rows;
  const first = my == 0;
  const last = my == mcusY - 1;
  if (anyFancyV && !first && y0 - 1 < outH) emitRow(y0 - 1, rows - 1, true, false, false);
  for (let r = 0; r < rows; r++) {
    const y = y0 + r;
    if (y >= outH) break;
    if (anyFancyV && r == rows - 1 && !last) break; // needs the next strip's first chroma row
    emitRow(y, r, false, first, last);
  }
  if (anyFancyV) {
    for (let i = 0; i < ncomp; i++) {
      const c = unchecked(comps[i]);
      memory.copy(c.prevLast, c.strip + <usize>((c.v * K - 1) * c.stride), <usize>c.stride);
    }
  }
}

// ---- driver --------------------------------------------------------------------------------------------

function setScale(scale: i32): void {
  K = 8 / scale;
  KK = K * K;
  for (let k = 64; k < 128; k++) store<i32>(keepIdx + <usize>(k << 2), -1);
  for (let k = 0; k < 64; k++) {
    const nat = <i32>load<u8>(ZIGZAG + <usize>k);
    const r = nat >> 3, c = nat & 7;
    store<i32>(keepIdx + <usize>(k << 2), r < K && c < K ? r * K + c : -1);
  }
}

/** Finds the next marker at or after pos; returns its code with pos on the byte after it, or −1 at the end. */
function nextMarker(): i32 {
  while (pos + 1 < end) {
    if (load<u8>(pos) == 0xFF) {
      const m = <i32>load<u8>(pos + 1);
      if (m != 0 && m != 0xFF) { pos += 2; return m; }
    }
    pos++;
  }
  pos = end;
  return -1;
}

/**
 * Decodes `len` bytes at `ptr` at 1/`scale` size into RGB, or with `channels` 4 a four-component image into
 * CMYK ink amounts. Returns 0 on success, else the error kind (see errorMessage()). `cs` is the colour
 * interpretation the caller derived from the header.
 */
export function decode(ptr: usize, len: i32, scale: i32, cs: i32, pixelLimit: f64, channels: i32): i32 {
  initIdct();
  huffBase = allocExact(HT_SIZE * 8 + FAST_AC_SIZE * 4);
  if (huffBase == 0) return errKind;
  fastAcBase = huffBase + HT_SIZE * 8;
  data = ptr;
  end = ptr + <usize>len;
  pos = ptr;
  maxPixels = pixelLimit;
  colorSpace = cs;
  outChannels = channels == 4 && (cs == CS_CMYK || cs == CS_CMYK_INVERTED || cs == CS_YCCK) ? 4 : 3;
  if (scale != 1 && scale != 2 && scale != 4 && scale != 8) { fail(KIND_UNSUPPORTED, "scale must be 1, 2, 4 or 8"); return errKind; }
  setScale(scale);
  if (len < 4 || load<u8>(data) != 0xFF || load<u8>(data + 1) != 0xD8) { fail(KIND_CORRUPT, "not a JPEG: missing SOI marker"); return errKind; }
  pos = data + 2;
  while (errKind == 0 && !emitted) {
    const m = nextMarker();
    if (m < 0) break;
    if (m == 0xD9) break;
    if (m == 0xD8 || m == 0x01 || (m >= 0xD0 && m <= 0xD7)) continue;
    if (pos + 2 > end) break;
    const segLen = u16be(pos);
    if (segLen < 2) { fail(KIND_CORRUPT, "corrupt JPEG: marker segment length below 2"); break; }
    const segStart = pos + 2;
    const segEnd = pos + <usize>segLen;
    if (segEnd > end) {
      // Truncated after some scan data: keep what was decoded (libjpeg's policy). Before it: corrupt.
      if (!anyScan && (m == 0xDA || m == 0xC4 || m == 0xDB || (m >= 0xC0 && m <= 0xCF))) {
        fail(KIND_CORRUPT, "corrupt JPEG: truncated marker segment");
      }
      break;
    }
    pos = segEnd;
    if (m == 0xDB) parseDQT(segStart, segEnd);
    else if (m == 0xC4) parseDHT(segStart, segEnd);
    else if (m == 0xDD) {
      if (segLen < 4) { fail(KIND_CORRUPT, "corrupt JPEG: short DRI segment"); break; }
      restartInterval = u16be(segStart);
    } else if (m == 0xCC) fail(KIND_UNSUPPORTED, "unsupported JPEG: arithmetic coding");
    else if (m >= 0xC0 && m <= 0xCF && m != 0xC8) {
      parseSOF(segStart, segEnd, m);
      if (errKind == 0) {
        outW = (width + scale - 1) / scale;
        outH = (height + scale - 1) / scale;
      }
    } else if (m == 0xDA) {
      if (!parseSOS(segStart, segEnd)) break;
      anyScan = true;
      resetEntropy();
      hitMarker = false;
      if (streaming) decodeStreamingScan();
      else decodeStoredScan();
    } else if (m == 0xDC) fail(KIND_UNSUPPORTED, "unsupported JPEG: DNL marker");
    // APPn, COM and anything else: skipped by length.
  }
  if (errKind != 0) return errKind;
  if (!frameSeen) { fail(KIND_CORRUPT, "corrupt JPEG: no frame header (missing SOF)"); return errKind; }
  if (!anyScan) { fail(KIND_CORRUPT, "corrupt JPEG: no scan (missing SOS)"); return errKind; }
  if (!emitted) {
    if (streaming) {
      // Cannot happen: a streaming scan always emits every MCU row.
      fail(KIND_CORRUPT, "corrupt JPEG: incomplete scan");
      return errKind;
    }
    emitStored();
  }
  return errKind;
}
