// Delivery URLs for the console's own views: thumbnails, variant renditions and previews. An image with
// requireSignedURLs is shown through a URL signed with the account's default key for an hour.
import { signUrl } from "./signing.js";

/** The flexible-variant options of gallery thumbnails (a named variant is used when flexible variants are off). */
export const THUMBNAIL_OPTIONS = "w=320,h=320,fit=cover";
const VIEW_SIGNATURE_SECONDS = 3600;

/**
 * The delivery URL of `variant` (a named variant or flexible options) of `image`: its `variants` URLs are
 * `<base>/<id>/<name>`, and a variant name has no `/`, so everything up to the last `/` is this image's base.
 */
export function variantUrl(image, variant) {
  const any = image.variants?.[0];
  if (!any) return undefined;
  return `${any.slice(0, any.lastIndexOf("/"))}/${variant}`;
}

/** A URL the browser can load now: `url` itself, or signed when the image requires signed URLs. */
export async function viewableUrl(api, image, url) {
  if (!url || !image.requireSignedURLs) return url;
  const keys = await api.signingKeys();
  const key = keys.find((k) => k.name === "default") ?? keys[0];
  return String(await signUrl(new URL(url), key.value, Date.now() + VIEW_SIGNATURE_SECONDS * 1000));
}

/** Fetches a rendition to show it with its real format and size: `{ objectUrl, type, size }`, or throws the reason. */
export async function fetchRendition(url) {
  const response = await fetch(url, { headers: { accept: "image/avif,image/webp,image/*" } });
  if (!response.ok) {
    const text = await response.text();
    let reason = `HTTP ${response.status}`;
    try {
      reason = JSON.parse(text).errors.map((e) => e.message).join("; ") || reason;
    } catch {
      // not the envelope
    }
    throw new Error(reason);
  }
  const blob = await response.blob();
  return { objectUrl: URL.createObjectURL(blob), type: blob.type || response.headers.get("content-type") || "unknown", size: blob.size };
}
