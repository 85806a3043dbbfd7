/** The header probe (upload and job): sniff the format, then its module's probe, without decoding pixels. */
import { CodecError } from "./errors.ts";
import { FORMATS, FORMAT_NAMES, sniffFormat, type ImageHeader } from "./formats/index.ts";

export { CONTENT_TYPES, sniffFormat, type ImageFormat, type ImageHeader } from "./formats/index.ts";

/** Sniffs the format from magic bytes and reads dimensions, orientation and alpha from the header. */
export function probeImage(bytes: Uint8Array): ImageHeader {
  const format = sniffFormat(bytes);
  if (!format) {
    throw new CodecError("unsupported", `unsupported image format: expected ${FORMAT_NAMES}`);
  }
  const header = FORMATS[format].probe(bytes);
  if (!(header.width > 0 && header.height > 0)) {
    throw new CodecError("corrupt", `${FORMATS[format].label} header declares an empty image (${header.width}×${header.height})`);
  }
  return header;
}
