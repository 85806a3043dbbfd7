import { AwsV4Signer } from "aws4fetch";
import type { R2Signer } from "../shared/config.ts";

/** S3 (and R2) refuse a query presignature valid for longer than 7 days; our drafts live at most 6 hours. */
const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

/** Our extension of the direct-upload answer: an S3 `PUT` straight to R2, and the headers it must carry. */
export interface PresignedPut {
  putURL: string;
  putHeaders: Record<string, string>;
}

/**
 * Presigns a path-style S3 `PUT` of `key` (SigV4 in the query string), valid until `expiresAt`. With `size`, the
 * signature also binds `Content-Length`, so R2 refuses any other length; otherwise only the host is signed and the
 * length is checked when R2's notification arrives.
 */
export async function presignPut(
  signer: R2Signer,
  bucket: string,
  key: string,
  expiresAt: number,
  size?: number,
  now = Date.now(),
): Promise<PresignedPut> {
  const url = new URL(`${signer.endpoint}/${bucket}/${key.split("/").map(uriEncode).join("/")}`);
  // Rounded down, so the URL never outlives the draft it uploads to.
  url.searchParams.set("X-Amz-Expires", String(Math.min(MAX_PRESIGN_SECONDS, Math.max(1, Math.floor((expiresAt - now) / 1000)))));
  const putHeaders: Record<string, string> = size === undefined ? {} : { "content-length": String(size) };
  const signed = await new AwsV4Signer({
    method: "PUT",
    url: url.href,
    headers: putHeaders,
    accessKeyId: signer.accessKeyId,
    secretAccessKey: signer.secretAccessKey,
    service: "s3",
    region: "auto",
    signQuery: true,
    // aws4fetch leaves Content-Length out of the signature by default; we pass only the headers we mean to bind.
    allHeaders: true,
    datetime: new Date(now).toISOString().replace(/[:-]|\.\d{3}/g, ""),
  }).sign();
  return { putURL: signed.url.href, putHeaders };
}

/** SigV4's UriEncode of one path segment: RFC 3986 unreserved characters stay, everything else is escaped. */
function uriEncode(segment: string): string {
  return encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
