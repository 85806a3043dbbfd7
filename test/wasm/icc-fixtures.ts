/**
 * ICC fixtures made in the test, so no profile file is downloaded or kept in git: matrix/TRC profiles written
 * byte by byte from published primaries (Adobe RGB (1998), ProPhoto/ROMM RGB), a colour patch chart, and the
 * colour-difference helper the conversion tests measure with.
 */

type Xy = [number, number];
type Xyz = [number, number, number];

/** Adobe RGB (1998): Adobe's published primaries, D65, gamma 563/256. */
export const ADOBE_RGB = { description: "Adobe RGB (1998) (test)", primaries: [[0.64, 0.33], [0.21, 0.71], [0.15, 0.06]] as Xy[], white: [0.3127, 0.329] as Xy, gamma: 563 / 256 };
/** ProPhoto RGB (ROMM, ISO 22028-2): D50, gamma 1.8. */
export const PROPHOTO_RGB = { description: "ProPhoto RGB (test)", primaries: [[0.7347, 0.2653], [0.1596, 0.8404], [0.0366, 0.0001]] as Xy[], white: [0.3457, 0.3585] as Xy, gamma: 1.8 };

const D50: Xyz = [0.9642, 1, 0.8249];
const toXyz = ([x, y]: Xy): Xyz => [x / y, 1, (1 - x - y) / y];

function solve3(m: number[][], v: Xyz): Xyz {
  const det = (a: number[][]) => a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) + a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
  const d = det(m);
  return [0, 1, 2].map((c) => det(m.map((row, r) => row.map((x, k) => (k === c ? v[r] : x)))) / d) as Xyz;
}

/** The colorants adapted to D50 with Bradford, as ICC v2.4+ requires of rXYZ/gXYZ/bXYZ. */
function colorantsD50(primaries: Xy[], white: Xy): Xyz[] {
  const p = primaries.map(toXyz);
  const m = [[p[0][0], p[1][0], p[2][0]], [p[0][1], p[1][1], p[2][1]], [p[0][2], p[1][2], p[2][2]]];
  const s = solve3(m, toXyz(white));
  const B = [[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]];
  const mv = (a: number[][], v: Xyz): Xyz => [0, 1, 2].map((r) => a[r][0] * v[0] + a[r][1] * v[1] + a[r][2] * v[2]) as Xyz;
  const src = mv(B, toXyz(white)), dst = mv(B, D50);
  return p.map((xyz, i) => {
    const c = mv(B, xyz.map((v) => v * s[i]) as Xyz).map((v, k) => (v * dst[k]) / src[k]) as Xyz;
    return solve3(B, c);
  });
}

/** A minimal v2 matrix/TRC display profile: header, desc, wtpt, rXYZ/gXYZ/bXYZ and one shared gamma curv. */
export function matrixTrcProfile(p: { description: string; primaries: Xy[]; white: Xy; gamma: number }): Uint8Array {
  const tags: Array<[string, Uint8Array]> = [];
  const xyzTag = (v: Xyz) => {
    const b = new Uint8Array(20);
    b.set([0x58, 0x59, 0x5a, 0x20]);
    const dv = new DataView(b.buffer);
    v.forEach((x, i) => dv.setInt32(8 + 4 * i, Math.round(x * 65536)));
    return b;
  };
  const desc = new Uint8Array(12 + p.description.length + 1 + 12 + 67 + 3);
  desc.set([0x64, 0x65, 0x73, 0x63]);
  new DataView(desc.buffer).setUint32(8, p.description.length + 1);
  for (let i = 0; i < p.description.length; i++) desc[12 + i] = p.description.charCodeAt(i);
  const curv = new Uint8Array(14);
  curv.set([0x63, 0x75, 0x72, 0x76]);
  new DataView(curv.buffer).setUint32(8, 1);
  new DataView(curv.buffer).setUint16(12, Math.round(p.gamma * 256));
  const [r, g, b] = colorantsD50(p.primaries, p.white);
  tags.push(["desc", desc], ["wtpt", xyzTag(D50)], ["rXYZ", xyzTag(r)], ["gXYZ", xyzTag(g)], ["bXYZ", xyzTag(b)], ["rTRC", curv]);
  const shared = ["gTRC", "bTRC"]; // point at rTRC's data, as real profiles do
  const count = tags.length + shared.length;
  let offset = 128 + 4 + 12 * count;
  const placed = tags.map(([sig, body]) => {
    const at = offset;
    offset += (body.length + 3) & ~3;
    return { sig, body, at };
  });
  const out = new Uint8Array(offset);
  const v = new DataView(out.buffer);
  v.setUint32(0, offset);
  out.set([0x02, 0x40, 0, 0], 8); // version 2.4
  const ascii = (s: string, at: number) => { for (let i = 0; i < 4; i++) out[at + i] = s.charCodeAt(i); };
  ascii("mntr", 12); ascii("RGB ", 16); ascii("XYZ ", 20); ascii("acsp", 36);
  v.setInt32(68, Math.round(D50[0] * 65536)); v.setInt32(72, 65536); v.setInt32(76, Math.round(D50[2] * 65536));
  v.setUint32(128, count);
  const entries = [...placed.map((t) => [t.sig, t.at, t.body.length] as const), ...shared.map((s) => [s, placed[5].at, placed[5].body.length] as const)];
  entries.forEach(([sig, at, size], i) => {
    ascii(sig, 132 + 12 * i);
    v.setUint32(136 + 12 * i, at);
    v.setUint32(140 + 12 * i, size);
  });
  for (const t of placed) out.set(t.body, t.at);
  return out;
}

/**
 * A patch chart, RGB: 12×8 patches of 16 px — greys, the primaries and secondaries at full and half strength,
 * skin and sky tones and a spread of mid colours — so a conversion is measured over the whole gamut, saturated
 * corners included.
 */
export function patchChart(): { data: Buffer; width: number; height: number } {
  const colours: number[][] = [];
  for (let i = 0; i < 12; i++) colours.push([i * 23, i * 23, i * 23]);
  for (const level of [255, 192, 128, 64]) {
    colours.push([level, 0, 0], [0, level, 0], [0, 0, level], [level, level, 0], [0, level, level], [level, 0, level]);
  }
  colours.push([224, 172, 140], [198, 134, 104], [141, 85, 36], [120, 170, 220], [90, 140, 60], [250, 210, 60]);
  for (let i = 0; colours.length < 96; i++) colours.push([(i * 97) % 256, (i * 57 + 40) % 256, (i * 151 + 90) % 256]);
  const side = 16, cols = 12, rows = 8, width = cols * side, height = rows * side;
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const c = colours[Math.floor(y / side) * cols + Math.floor(x / side)];
      data.set(c, (y * width + x) * 3);
    }
  }
  return { data, width, height };
}

/** 8-bit sRGB → CIE Lab (D65). */
function srgbToLab(r: number, g: number, b: number): Xyz {
  const lin = (v: number) => (v /= 255) <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  const [R, G, B] = [lin(r), lin(g), lin(b)];
  const X = (0.4124 * R + 0.3576 * G + 0.1805 * B) / 0.95047, Y = 0.2126 * R + 0.7152 * G + 0.0722 * B, Z = (0.0193 * R + 0.1192 * G + 0.9505 * B) / 1.08883;
  const f = (t: number) => (t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 * t + 16) / 116);
  return [116 * f(Y) - 16, 500 * (f(X) - f(Y)), 200 * (f(Y) - f(Z))];
}

/** Mean and maximum CIE76 ΔE between two sRGB rasters of `channels` bytes a pixel (only RGB compared). */
export function deltaE(a: Uint8Array, b: Uint8Array, channels = 3): { mean: number; max: number } {
  if (a.length !== b.length) throw new Error(`deltaE: ${a.length} vs ${b.length} bytes`);
  let sum = 0, max = 0, n = 0;
  for (let i = 0; i < a.length; i += channels, n++) {
    const p = srgbToLab(a[i], a[i + 1], a[i + 2]), q = srgbToLab(b[i], b[i + 1], b[i + 2]);
    const d = Math.hypot(p[0] - q[0], p[1] - q[1], p[2] - q[2]);
    sum += d;
    if (d > max) max = d;
  }
  return { mean: sum / n, max };
}
