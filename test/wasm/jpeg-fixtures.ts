// Fixture helpers for the JPEG decoder tests: synthetic photo-like images, a reference box-downscale, PSNR,
// and a tiny baseline JPEG encoder for what sharp cannot write (4:2:2/4:4:0/4:1:1 and odd sampling
// factors, restart intervals, YCCK, Adobe RGB, and hand-broken streams).

/** Smooth gradients, soft discs and mild noise: what photos look like to a DCT, deterministic. */
export function syntheticPhoto(width: number, height: number, seed = 7): Buffer {
  const raw = Buffer.alloc(width * height * 3);
  let s = seed;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      s = (s * 1103515245 + 12345) >>> 0;
      const noise = ((s >>> 16) & 7) - 4;
      const dx = x - width * 0.6;
      const dy = y - height * 0.4;
      const disc = 60 * Math.exp(-(dx * dx + dy * dy) / (0.05 * width * width + 1));
      const i = (y * width + x) * 3;
      raw[i] = clamp(60 + (150 * x) / Math.max(1, width) + disc + noise);
      raw[i + 1] = clamp(40 + (160 * y) / Math.max(1, height) + 20 * Math.sin(x / 23) + noise);
      raw[i + 2] = clamp(200 - (120 * (x + y)) / Math.max(1, width + height) - disc + noise);
    }
  }
  return raw;
}

export function clamp(v: number): number {
  return v < 0 ? 0 : v > 255 ? 255 : Math.round(v);
}

/** Box-average of an interleaved image by `scale`, output ceil(w/scale) × ceil(h/scale) (edge cells partial). */
export function boxDownscale(data: Uint8Array, width: number, height: number, channels: number, scale: number): Uint8Array {
  const ow = Math.ceil(width / scale);
  const oh = Math.ceil(height / scale);
  const out = new Uint8Array(ow * oh * channels);
  for (let oy = 0; oy < oh; oy++) {
    const y1 = Math.min(height, oy * scale + scale);
    for (let ox = 0; ox < ow; ox++) {
      const x1 = Math.min(width, ox * scale + scale);
      for (let c = 0; c < channels; c++) {
        let sum = 0;
        let n = 0;
        for (let y = oy * scale; y < y1; y++) {
          for (let x = ox * scale; x < x1; x++) {
            sum += data[(y * width + x) * channels + c];
            n++;
          }
        }
        out[(oy * ow + ox) * channels + c] = Math.round(sum / n);
      }
    }
  }
  return out;
}


export function meanAbsError(a: Uint8Array, b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}

/** Naive CMYK (ink amounts, 4 channels) → RGB, the conversion the decoder documents. */
export function cmykInkToRgb(cmyk: Uint8Array): Uint8Array {
  const n = cmyk.length / 4;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const kw = 255 - cmyk[i * 4 + 3];
    for (let c = 0; c < 3; c++) out[i * 3 + c] = Math.round(((255 - cmyk[i * 4 + c]) * kw) / 255);
  }
  return out;
}

export function rgbToYcc(r: number, g: number, b: number): [number, number, number] {
  return [
    clamp(0.299 * r + 0.587 * g + 0.114 * b),
    clamp(-0.168736 * r - 0.331264 * g + 0.5 * b + 128),
    clamp(0.5 * r - 0.418688 * g - 0.081312 * b + 128),
  ];
}

// ---- a tiny baseline encoder ---------------------------------------------------------------------------

export interface EncodeOptions {
  width: number;
  height: number;
  /** Full-resolution planes, one per component (downsampled here by box averaging). */
  planes: Uint8Array[];
  /** [h, v] per component. */
  sampling: [number, number][];
  ids?: number[];
  /** Flat quantizer step (all 64 coefficients). */
  quant?: number;
  restartInterval?: number;
  adobeTransform?: number;
  jfif?: boolean;
}

const ZIGZAG = [
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
  35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];

// Valid canonical tables that need no Annex K lists: all 12 DC categories at 4 bits, all 162 AC symbols at 8 bits.
const DC_COUNTS = [0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
const DC_SYMBOLS = Array.from({ length: 12 }, (_, i) => i);
const AC_COUNTS = [0, 0, 0, 0, 0, 0, 0, 162, 0, 0, 0, 0, 0, 0, 0, 0];
const AC_SYMBOLS = [0x00, 0xf0, ...Array.from({ length: 160 }, (_, i) => ((i / 10) | 0) * 16 + (i % 10) + 1)];

function canonicalCodes(counts: number[], symbols: number[]): Map<number, [number, number]> {
  const map = new Map<number, [number, number]>();
  let code = 0;
  let k = 0;
  for (let l = 1; l <= 16; l++) {
    for (let i = 0; i < counts[l - 1]; i++) map.set(symbols[k++], [code++, l]);
    code <<= 1;
  }
  return map;
}

const COS = Array.from({ length: 64 }, (_, i) => {
  const x = i >> 3;
  const u = i & 7;
  return (u === 0 ? Math.SQRT1_2 : 1) * Math.cos(((2 * x + 1) * u * Math.PI) / 16) * 0.5;
});

function fdct(block: Float64Array): Float64Array {
  const tmp = new Float64Array(64);
  const out = new Float64Array(64);
  for (let y = 0; y < 8; y++) {
    for (let u = 0; u < 8; u++) {
      let s = 0;
      for (let x = 0; x < 8; x++) s += block[y * 8 + x] * COS[x * 8 + u];
      tmp[y * 8 + u] = s;
    }
  }
  for (let u = 0; u < 8; u++) {
    for (let v = 0; v < 8; v++) {
      let s = 0;
      for (let y = 0; y < 8; y++) s += tmp[y * 8 + u] * COS[y * 8 + v];
      out[v * 8 + u] = s;
    }
  }
  return out;
}

class BitWriter {
  bytes: number[] = [];
  private acc = 0;
  private n = 0;
  write(code: number, len: number): void {
    for (let i = len - 1; i >= 0; i--) {
      this.acc = (this.acc << 1) | ((code >> i) & 1);
      if (++this.n === 8) this.flushByte();
    }
  }
  private flushByte(): void {
    this.bytes.push(this.acc);
    if (this.acc === 0xff) this.bytes.push(0);
    this.acc = 0;
    this.n = 0;
  }
  align(): void {
    while (this.n !== 0) this.write(1, 1);
  }
}

function segment(marker: number, payload: number[]): number[] {
  const len = payload.length + 2;
  return [0xff, marker, len >> 8, len & 255, ...payload];
}

interface EncodedComponent {
  h: number;
  v: number;
  /** Blocks per row in the MCU-padded grid, and the real (non-interleaved) extent. */
  pbw: number;
  bw: number;
  bh: number;
  /** Quantized coefficients in zigzag order, padded grid, row-major. */
  blocks: Int32Array[];
  pred: number;
}

/** Downsamples, pads by edge replication, transforms and quantizes every block. */
function prepareComponents(o: EncodeOptions): { comps: EncodedComponent[]; mcusX: number; mcusY: number } {
  const hmax = Math.max(...o.sampling.map((s) => s[0]));
  const vmax = Math.max(...o.sampling.map((s) => s[1]));
  const mcusX = Math.ceil(o.width / (8 * hmax));
  const mcusY = Math.ceil(o.height / (8 * vmax));
  const q = o.quant ?? 2;
  const block = new Float64Array(64);
  const comps = o.planes.map((plane, c) => {
    const [h, v] = o.sampling[c];
    const fx = hmax / h;
    const fy = vmax / v;
    const cw = Math.ceil((o.width * h) / hmax);
    const ch = Math.ceil((o.height * v) / vmax);
    const pw = mcusX * h * 8;
    const ph = mcusY * v * 8;
    const data = new Uint8Array(pw * ph);
    for (let y = 0; y < ph; y++) {
      for (let x = 0; x < pw; x++) {
        const sx = Math.min(x, cw - 1);
        const sy = Math.min(y, ch - 1);
        let sum = 0;
        let n = 0;
        for (let yy = sy * fy; yy < Math.min(o.height, sy * fy + fy); yy++) {
          for (let xx = sx * fx; xx < Math.min(o.width, sx * fx + fx); xx++) {
            sum += plane[yy * o.width + xx];
            n++;
          }
        }
        data[y * pw + x] = Math.round(sum / n);
      }
    }
    const blocks: Int32Array[] = [];
    for (let by = 0; by < ph / 8; by++) {
      for (let bx = 0; bx < pw / 8; bx++) {
        for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) block[y * 8 + x] = data[(by * 8 + y) * pw + bx * 8 + x] - 128;
        const f = fdct(block);
        blocks.push(Int32Array.from(ZIGZAG, (nat) => Math.round(f[nat] / q)));
      }
    }
    return { h, v, pbw: pw / 8, bw: Math.ceil(cw / 8), bh: Math.ceil(ch / 8), blocks, pred: 0 };
  });
  return { comps, mcusX, mcusY };
}

function magnitude(v: number): { size: number; bits: number } {
  const mag = Math.abs(v);
  const size = mag === 0 ? 0 : Math.floor(Math.log2(mag)) + 1;
  return { size, bits: v < 0 ? v + (1 << size) - 1 : v };
}

/**
 * Writes one scan's entropy data. `units` lists, per restart unit (MCU or block), the blocks in order;
 * `code(block, comp)` encodes one block. Restart markers go between units every `ri` units.
 */
function writeScan(units: [EncodedComponent, Int32Array][][], ri: number, code: (bw: BitWriter, c: EncodedComponent, b: Int32Array) => void, comps: EncodedComponent[]): number[] {
  const bw = new BitWriter();
  let rst = 0;
  for (const c of comps) c.pred = 0;
  units.forEach((unit, i) => {
    if (ri && i > 0 && i % ri === 0) {
      bw.align();
      bw.bytes.push(0xff, 0xd0 + (rst++ & 7));
      for (const c of comps) c.pred = 0;
    }
    for (const [c, b] of unit) code(bw, c, b);
  });
  bw.align();
  return bw.bytes;
}

function interleavedUnits(comps: EncodedComponent[], mcusX: number, mcusY: number): [EncodedComponent, Int32Array][][] {
  const units: [EncodedComponent, Int32Array][][] = [];
  for (let my = 0; my < mcusY; my++) {
    for (let mx = 0; mx < mcusX; mx++) {
      const unit: [EncodedComponent, Int32Array][] = [];
      for (const c of comps) {
        for (let by = 0; by < c.v; by++) for (let bx = 0; bx < c.h; bx++) unit.push([c, c.blocks[(my * c.v + by) * c.pbw + mx * c.h + bx]]);
      }
      units.push(unit);
    }
  }
  return units;
}

function singleUnits(c: EncodedComponent): [EncodedComponent, Int32Array][][] {
  const units: [EncodedComponent, Int32Array][][] = [];
  for (let by = 0; by < c.bh; by++) for (let bx = 0; bx < c.bw; bx++) units.push([[c, c.blocks[by * c.pbw + bx]]]);
  return units;
}

const DC_CODES = canonicalCodes(DC_COUNTS, DC_SYMBOLS);
const AC_CODES = canonicalCodes(AC_COUNTS, AC_SYMBOLS);

function put(bw: BitWriter, table: Map<number, [number, number]>, symbol: number): void {
  const [code, len] = table.get(symbol)!;
  bw.write(code, len);
}

function codeDc(bw: BitWriter, c: EncodedComponent, value: number): void {
  const d = magnitude(value - c.pred);
  c.pred = value;
  put(bw, DC_CODES, d.size);
  if (d.size) bw.write(d.bits, d.size);
}

/** AC coefficients ss..se (zigzag) with plain EOBs (no EOB runs). */
function codeAcBand(bw: BitWriter, b: Int32Array, ss: number, se: number): void {
  let run = 0;
  for (let k = ss; k <= se; k++) {
    if (b[k] === 0) { run++; continue; }
    while (run > 15) { put(bw, AC_CODES, 0xf0); run -= 16; }
    const a = magnitude(b[k]);
    put(bw, AC_CODES, (run << 4) | a.size);
    bw.write(a.bits, a.size);
    run = 0;
  }
  if (run > 0) put(bw, AC_CODES, 0);
}

function headers(o: EncodeOptions, sofMarker: number): number[] {
  const nc = o.planes.length;
  const ids = o.ids ?? Array.from({ length: nc }, (_, i) => i + 1);
  const out: number[] = [0xff, 0xd8];
  if (o.jfif) out.push(...segment(0xe0, [0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]));
  if (o.adobeTransform !== undefined) out.push(...segment(0xee, [0x41, 0x64, 0x6f, 0x62, 0x65, 0, 100, 0, 0, 0, 0, o.adobeTransform]));
  out.push(...segment(0xdb, [0, ...Array(64).fill(o.quant ?? 2)]));
  const sof = [8, o.height >> 8, o.height & 255, o.width >> 8, o.width & 255, nc];
  for (let c = 0; c < nc; c++) sof.push(ids[c], (o.sampling[c][0] << 4) | o.sampling[c][1], 0);
  out.push(...segment(sofMarker, sof));
  out.push(...segment(0xc4, [0x00, ...DC_COUNTS, ...DC_SYMBOLS]));
  out.push(...segment(0xc4, [0x10, ...AC_COUNTS, ...AC_SYMBOLS]));
  if (o.restartInterval) out.push(...segment(0xdd, [o.restartInterval >> 8, o.restartInterval & 255]));
  return out;
}

function sosHeader(o: EncodeOptions, which: number[], ss: number, se: number, ah: number, al: number): number[] {
  const ids = o.ids ?? o.planes.map((_, i) => i + 1);
  return segment(0xda, [which.length, ...which.flatMap((c) => [ids[c], 0x00]), ss, se, (ah << 4) | al]);
}

/**
 * Encodes a sequential (SOF0) JPEG with arbitrary sampling factors; with `separateScans` every component
 * gets its own non-interleaved scan (which the decoder must buffer as coefficients).
 */
export function encodeBaseline(o: EncodeOptions & { separateScans?: boolean }): Uint8Array {
  const { comps, mcusX, mcusY } = prepareComponents(o);
  const ri = o.restartInterval ?? 0;
  const out = headers(o, 0xc0);
  const full = (bw: BitWriter, c: EncodedComponent, b: Int32Array) => {
    codeDc(bw, c, b[0]);
    codeAcBand(bw, b, 1, 63);
  };
  if (o.separateScans) {
    comps.forEach((c, i) => out.push(...sosHeader(o, [i], 0, 63, 0, 0), ...writeScan(singleUnits(c), ri, full, comps)));
  } else {
    out.push(...sosHeader(o, comps.map((_, i) => i), 0, 63, 0, 0), ...writeScan(interleavedUnits(comps, mcusX, mcusY), ri, full, comps));
  }
  out.push(0xff, 0xd9);
  return new Uint8Array(out);
}

/** AC band ss..se with magnitudes point-transformed by `al` (truncated toward zero), plain EOBs. */
function codeAcFirst(bw: BitWriter, b: Int32Array, ss: number, se: number, al: number): void {
  const shifted = Int32Array.from(b, (v) => Math.sign(v) * (Math.abs(v) >> al));
  codeAcBand(bw, shifted, ss, se);
}

/**
 * AC refinement from Ah = 1 to Al = 0 (T.81 G.1.2.3, as libjpeg's encoder does it): newly nonzero
 * coefficients (|v| = 1) are run-length coded over zero-history ones, with the correction bits of
 * already-nonzero coefficients passed on the way appended; every block ends with its own EOB (run of 1).
 */
function codeAcRefine(bw: BitWriter, b: Int32Array, ss: number, se: number): void {
  let eob = 0;
  for (let k = ss; k <= se; k++) if (Math.abs(b[k]) === 1) eob = k;
  let run = 0;
  let pending: number[] = [];
  for (let k = ss; k <= se; k++) {
    const a = Math.abs(b[k]);
    if (a === 0) { run++; continue; }
    while (run > 15 && k <= eob) {
      put(bw, AC_CODES, 0xf0);
      for (const bit of pending) bw.write(bit, 1);
      pending = [];
      run -= 16;
    }
    if (a > 1) { pending.push(a & 1); continue; }
    put(bw, AC_CODES, (run << 4) | 1);
    bw.write(b[k] > 0 ? 1 : 0, 1);
    for (const bit of pending) bw.write(bit, 1);
    pending = [];
    run = 0;
  }
  if (run > 0 || pending.length > 0) {
    put(bw, AC_CODES, 0x00);
    for (const bit of pending) bw.write(bit, 1);
  }
}

/**
 * Encodes a progressive (SOF2) JPEG. Default script: DC first with Al=1 (interleaved), AC bands 1-5 and
 * 6-63 per component (spectral selection), then the DC refinement. With `acRefine`: AC 1-63 first at Al=1,
 * DC refinement, then AC 1-63 refinement to Al=0 (successive approximation on AC too).
 * Restart intervals apply to every scan.
 */
export function encodeProgressive(o: EncodeOptions & { acRefine?: boolean }): Uint8Array {
  const { comps, mcusX, mcusY } = prepareComponents(o);
  const ri = o.restartInterval ?? 0;
  const out = headers(o, 0xc2);
  const all = comps.map((_, i) => i);
  const dcFirst = (bw: BitWriter, c: EncodedComponent, b: Int32Array) => codeDc(bw, c, b[0] >> 1);
  const dcRefine = (bw: BitWriter, _c: EncodedComponent, b: Int32Array) => bw.write(b[0] & 1, 1);
  out.push(...sosHeader(o, all, 0, 0, 0, 1), ...writeScan(interleavedUnits(comps, mcusX, mcusY), ri, dcFirst, comps));
  if (o.acRefine) {
    comps.forEach((c, i) => {
      const first = (bw: BitWriter, _c: EncodedComponent, b: Int32Array) => codeAcFirst(bw, b, 1, 63, 1);
      out.push(...sosHeader(o, [i], 1, 63, 0, 1), ...writeScan(singleUnits(c), ri, first, comps));
    });
  } else {
    for (const [ss, se] of [[1, 5], [6, 63]]) {
      comps.forEach((c, i) => {
        const band = (bw: BitWriter, _c: EncodedComponent, b: Int32Array) => codeAcBand(bw, b, ss, se);
        out.push(...sosHeader(o, [i], ss, se, 0, 0), ...writeScan(singleUnits(c), ri, band, comps));
      });
    }
  }
  out.push(...sosHeader(o, all, 0, 0, 1, 0), ...writeScan(interleavedUnits(comps, mcusX, mcusY), ri, dcRefine, comps));
  if (o.acRefine) {
    comps.forEach((c, i) => {
      const refine = (bw: BitWriter, _c: EncodedComponent, b: Int32Array) => codeAcRefine(bw, b, 1, 63);
      out.push(...sosHeader(o, [i], 1, 63, 1, 0), ...writeScan(singleUnits(c), ri, refine, comps));
    });
  }
  out.push(0xff, 0xd9);
  return new Uint8Array(out);
}

/** Splits interleaved RGB into YCbCr planes. */
export function yccPlanes(rgb: Uint8Array, width: number, height: number): Uint8Array[] {
  const planes = [new Uint8Array(width * height), new Uint8Array(width * height), new Uint8Array(width * height)];
  for (let i = 0; i < width * height; i++) {
    const [y, cb, cr] = rgbToYcc(rgb[i * 3], rgb[i * 3 + 1], rgb[i * 3 + 2]);
    planes[0][i] = y;
    planes[1][i] = cb;
    planes[2][i] = cr;
  }
  return planes;
}

/** Offset of the first marker `code` (0xFF code) from the start, or -1. Only walks header segments. */
export function findMarker(bytes: Uint8Array, code: number): number {
  let pos = 2;
  while (pos + 4 <= bytes.length && bytes[pos] === 0xff) {
    if (bytes[pos + 1] === code) return pos;
    if (bytes[pos + 1] === 0xda) return -1;
    pos += 2 + ((bytes[pos + 2] << 8) | bytes[pos + 3]);
  }
  return -1;
}

/** Removes the header segment starting at `at`. */
export function withoutSegment(bytes: Uint8Array, at: number): Uint8Array {
  const len = 2 + ((bytes[at + 2] << 8) | bytes[at + 3]);
  const out = new Uint8Array(bytes.length - len);
  out.set(bytes.subarray(0, at), 0);
  out.set(bytes.subarray(at + len), at);
  return out;
}
