/**
 * PNG chunk walking around the Rust `png` crate (@jsquash/png).
 *
 * The crate fails a whole decode on a malformed ancillary chunk (a tEXt keyword without its NUL, a bad zTXt,
 * an ancillary chunk with a bad CRC) where libpng warns and ignores it, and @jsquash/png turns every crate
 * error into the message "`unwrap_throw` failed". So the decoder only ever sees the chunks the pixels need,
 * and when it still fails we say what is wrong with the stream ourselves.
 */
const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/**
 * Ancillary chunks that change the 8-bit RGBA the codec returns. The crate applies none of gAMA, cHRM, sRGB,
 * iCCP or sBIT, and acTL/fcTL/fdAT only describe animation frames after the default image (the IDAT image,
 * which is what we render, as sharp and non-APNG viewers do).
 */
const PIXEL_ANCILLARY = new Set(["tRNS"]);

/** The CRC-32 table (ISO 3309, as PNG uses it); built per call, since it is only needed off the hot path. */
function crcTable(): Uint32Array {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

function crc32(table: Uint32Array, b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = table[(c ^ b[i]) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** One PNG chunk: length, type, `data`, and the CRC of type and data. */
export function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const chunk = new Uint8Array(12 + data.length);
  const v = new DataView(chunk.buffer);
  v.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) chunk[4 + i] = type.charCodeAt(i);
  chunk.set(data, 8);
  v.setUint32(8 + data.length, crc32(crcTable(), chunk.subarray(4, 8 + data.length)));
  return chunk;
}

/** `png` with `chunk` inserted right after IHDR, where ancillary chunks that must precede PLTE and IDAT go. */
export function insertAfterIhdr(png: Uint8Array, chunk: Uint8Array): Uint8Array {
  const at = SIGNATURE.length + 12 + 13;
  const out = new Uint8Array(png.length + chunk.length);
  out.set(png.subarray(0, at));
  out.set(chunk, at);
  out.set(png.subarray(at), at + chunk.length);
  return out;
}

const type = (b: Uint8Array, at: number) => String.fromCharCode(b[at], b[at + 1], b[at + 2], b[at + 3]);
const u32 = (b: Uint8Array, at: number) => ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;

/**
 * The parts of `input` (views, not copies) that make the same image without ancillary chunks the pixels do
 * not need: signature, critical chunks (IHDR, PLTE, IDAT, IEND and any unknown critical one, which the
 * decoder must see to refuse) and tRNS; nothing after IEND. A chunk that runs past the end of the input is
 * kept as it is, so the decoder reports the truncation.
 */
export function pixelChunks(input: Uint8Array): Uint8Array[] {
  if (input.length < 8) return [input];
  const parts: Uint8Array[] = [];
  let runStart = 0; // start of the current run of kept bytes
  let p = 8;
  while (p + 8 <= input.length) {
    const length = u32(input, p);
    const end = p + 12 + length;
    const name = type(input, p + 4);
    const critical = (input[p + 4] & 0x20) === 0;
    if (end > input.length || length > 0x7fffffff) return [...parts, input.subarray(runStart)];
    if (!critical && !PIXEL_ANCILLARY.has(name)) {
      if (p > runStart) parts.push(input.subarray(runStart, p));
      runStart = end;
    }
    p = end;
    if (name === "IEND") break;
  }
  if (p > runStart) parts.push(input.subarray(runStart, Math.min(p, input.length)));
  return parts;
}

/** What is wrong with a PNG the decoder refused, as far as the chunk structure tells; undefined if it looks sound. */
export function describePngDamage(input: Uint8Array): string | undefined {
  if (input.length < 8 || SIGNATURE.some((v, i) => input[i] !== v)) return "bad signature";
  const table = crcTable();
  let p = 8;
  let sawIdat = false;
  let first = true;
  while (p < input.length) {
    if (p + 12 > input.length) return `truncated at byte ${input.length}, inside a chunk header`;
    const length = u32(input, p);
    const name = type(input, p + 4);
    if (!/^[A-Za-z]{4}$/.test(name)) return `invalid chunk type at byte ${p}`;
    if (length > 0x7fffffff) return `chunk ${name} at byte ${p} has an invalid length (${length})`;
    if (first && name !== "IHDR") return `first chunk is ${name}, not IHDR`;
    first = false;
    if (p + 12 + length > input.length) return `truncated at byte ${input.length}, inside the ${name} chunk that starts at byte ${p}`;
    const critical = (input[p + 4] & 0x20) === 0;
    if (critical && crc32(table, input.subarray(p + 4, p + 8 + length)) !== u32(input, p + 8 + length)) return `CRC mismatch in the ${name} chunk at byte ${p}`;
    if (critical && !["IHDR", "PLTE", "IDAT", "IEND"].includes(name)) return `unknown critical chunk ${name}`;
    if (name === "IDAT") sawIdat = true;
    if (name === "IEND") return sawIdat ? undefined : "no IDAT chunk";
    p += 12 + length;
  }
  return sawIdat ? "no IEND chunk (truncated)" : "no IDAT chunk";
}
