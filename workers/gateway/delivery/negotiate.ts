import { AVIF_MAX_SIDE, type OutputFormat, type RequestedFormat } from "../../shared/transform.ts";

/**
 * Picks the output format. An explicit format wins; `auto` (named variants, `f=auto`) serves AVIF, else WebP,
 * else JPEG — PNG when the image has alpha — by what the `Accept` header lists. AVIF is not encoded above
 * AVIF_MAX_SIDE px (as on Cloudflare Images), so larger outputs fall back to the next choice. An animation kept
 * (`animated`) is never negotiated to AVIF, which we do not animate: WebP carries it. `svg` (the sanitised original)
 * is answered before negotiation for an SVG image; any other image has no SVG to give and is negotiated as `auto`.
 */
export function negotiateFormat(
  requested: RequestedFormat,
  accept: string | undefined,
  image: { hasAlpha: boolean; outputWidth: number; outputHeight: number; animated?: boolean; fast?: boolean },
): OutputFormat {
  const avifFits = !image.animated && Math.max(image.outputWidth, image.outputHeight) <= AVIF_MAX_SIDE;
  const accepted = acceptedTypes(accept);
  const fallback: OutputFormat = image.hasAlpha ? "png" : "jpeg";
  if (requested === "avif") return avifFits ? "avif" : accepted.has("image/webp") ? "webp" : fallback;
  if (requested !== "auto" && requested !== "svg") return requested;
  // compression=fast: the quickest format to encode, as Cloudflare picks it (JPEG; PNG keeps alpha).
  if (image.fast) return fallback;
  if (avifFits && accepted.has("image/avif")) return "avif";
  if (accepted.has("image/webp")) return "webp";
  return fallback;
}

/** Media types the client accepts with a non-zero quality. Wildcards are not taken as support for new formats. */
function acceptedTypes(accept: string | undefined): Set<string> {
  const types = new Set<string>();
  for (const part of (accept ?? "").split(",")) {
    const [type, ...params] = part.trim().toLowerCase().split(";");
    const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    if (q && Number(q.slice(2)) === 0) continue;
    if (type) types.add(type.trim());
  }
  return types;
}
