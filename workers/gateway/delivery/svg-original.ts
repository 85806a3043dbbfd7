import { CONTENT_TYPES } from "../../../wasm/src/probe.ts";
import { notFound } from "../../shared/errors.ts";
import { originalKey, type StoredImage } from "../../shared/storage.ts";
import { respondWithBytes } from "./respond.ts";

/**
 * Headers of every answer that is an SVG document (`f=svg`, the `/blob` of an SVG): it was sanitised at upload,
 * and a browser opening it directly still runs nothing and loads nothing (inline styles only), nor takes it for
 * another type.
 */
export const SVG_DOCUMENT_HEADERS = {
  "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'",
  "x-content-type-options": "nosniff",
} as const;

/**
 * `f=svg` of an SVG image: the sanitised original from R2, as it was stored. Not copied into the location's
 * cache: the delete path forgets cached renditions by the renditions index, which an original is not in.
 */
export async function serveSvgOriginal(request: Request, bucket: R2Bucket, image: StoredImage, cacheControl: string): Promise<Response> {
  const object = await bucket.get(originalKey(image));
  if (!object) throw notFound("the original of this image is not in storage");
  const headers = new Headers({ "content-type": CONTENT_TYPES.svg, "cache-control": cacheControl, etag: object.httpEtag, ...SVG_DOCUMENT_HEADERS });
  headers.set("x-image-source", "ORIGINAL");
  return respondWithBytes(request, object.body, object.size, headers);
}
