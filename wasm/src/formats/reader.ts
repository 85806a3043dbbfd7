/** A bounds-checked cursor over a header, for the probes: reading past the end is `corrupt`, never a RangeError. */
import { CodecError } from "../errors.ts";

export class Reader {
  bytes: Uint8Array;
  pos = 0;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  remaining(): number {
    return this.bytes.length - this.pos;
  }

  need(n: number, what: string): void {
    if (this.pos + n > this.bytes.length) throw new CodecError("corrupt", `${what} header is truncated (at byte ${this.pos} of ${this.bytes.length})`);
  }

  u8(): number {
    this.need(1, "image");
    return this.bytes[this.pos++];
  }

  u16be(): number {
    this.need(2, "image");
    const v = (this.bytes[this.pos] << 8) | this.bytes[this.pos + 1];
    this.pos += 2;
    return v;
  }

  u16le(): number {
    this.need(2, "image");
    const v = this.bytes[this.pos] | (this.bytes[this.pos + 1] << 8);
    this.pos += 2;
    return v;
  }

  u24le(): number {
    this.need(3, "image");
    const v = this.bytes[this.pos] | (this.bytes[this.pos + 1] << 8) | (this.bytes[this.pos + 2] << 16);
    this.pos += 3;
    return v;
  }

  u32be(): number {
    this.need(4, "image");
    const v = readU32(this.bytes, this.pos);
    this.pos += 4;
    return v;
  }

  u32le(): number {
    this.need(4, "image");
    const v = readU32LE(this.bytes, this.pos);
    this.pos += 4;
    return v;
  }

  ascii(n: number): string {
    this.need(n, "image");
    const s = ascii(this.bytes, this.pos, n);
    this.pos += n;
    return s;
  }
}

export function ascii(b: Uint8Array, start: number, n: number): string {
  let s = "";
  for (let i = start; i < Math.min(b.length, start + n); i++) s += String.fromCharCode(b[i]);
  return s;
}

export function readU32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

export function readU32LE(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}
