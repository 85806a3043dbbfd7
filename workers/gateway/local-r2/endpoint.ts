import { LOCAL_R2_PATH } from "../../shared/config.ts";
import { notFound } from "../../shared/errors.ts";
import { putObjectNotification } from "../../shared/r2-notifications.ts";
import { parseIncomingKey } from "../../shared/storage.ts";
import { router } from "../app.ts";
import { boundDeclaredStream, refuseBody } from "../request-body.ts";
import { verifyPresignedRequest, type S3Refusal } from "./presigned-request.ts";

/**
 * The local stand-in for R2's S3 endpoint, for `npm start` only (LOCAL_R2_ENDPOINT=enabled, which nothing else
 * sets): Miniflare has neither an S3 API nor event notifications. It answers a presigned `PUT <bucket>/<key>` as R2
 * would for our URLs: the same SigV4 presignature checked (recomputed with the same secret), its expiry and signed
 * Content-Length, only `incoming/` keys of this bucket, the body bounded by MAX_DIRECT_UPLOAD_BYTES while it
 * streams; then the object goes to the local bucket and R2's own notification message onto `image-uploads`.
 */
export const localR2Routes = router();

localR2Routes.use(async (c, next) => {
  const { directUploads } = c.get("config");
  // Off (every deployment): the same answer as any unknown route.
  if (!directUploads.localEndpoint || !directUploads.signer) throw notFound("no such route");
  await next();
});

localR2Routes.put("/*", async (c) => {
  const { directUploads } = c.get("config");
  const request = c.req.raw;
  const refuse = (refusal: S3Refusal) => {
    refuseBody(request);
    return s3Error(refusal);
  };
  const refusal = await verifyPresignedRequest(request, directUploads.signer!);
  if (refusal) return refuse(refusal);

  const [bucket, ...encodedKey] = new URL(request.url).pathname.slice(LOCAL_R2_PATH.length + 1).split("/");
  if (bucket !== directUploads.bucketName) return refuse(denied(`bucket ${JSON.stringify(bucket)} is not this platform's bucket (R2_BUCKET_NAME is ${directUploads.bucketName})`));
  const key = encodedKey.map(decodeURIComponent).join("/");
  if (!parseIncomingKey(key)) return refuse(denied(`presigned uploads may only write incoming/<storage id>/<life> keys, not ${JSON.stringify(key)}`));

  const declared = request.headers.get("content-length");
  if (declared === null || !/^[0-9]+$/.test(declared)) return refuse({ status: 411, code: "MissingContentLength", message: "You must provide the Content-Length HTTP header." });
  const length = Number(declared);
  if (length > directUploads.maxBytes) {
    return refuse({ status: 400, code: "EntityTooLarge", message: `the body is ${length} bytes; uploads take at most ${directUploads.maxBytes} (MAX_DIRECT_UPLOAD_BYTES)` });
  }

  // R2 needs the length up front: the body streams through a FixedLengthStream, which fails a body that ends
  // short or runs long (the declared length is within the limit), and is cut on the body deadline.
  const body = request.body ?? new ReadableStream({ start: (controller) => controller.close() });
  const bounded = boundDeclaredStream(body, length, AbortSignal.timeout(c.get("config").bodyTimeoutSeconds * 1000));
  let object: R2Object | null;
  try {
    object = await c.env.BUCKET.put(key, bounded.stream);
    if (!object) throw new Error("the put was refused");
  } catch {
    const cut = bounded.cut();
    if (cut === "deadline") return s3Error({ status: 400, code: "RequestTimeout", message: "the body did not arrive within UPLOAD_BODY_TIMEOUT_SECONDS" });
    return s3Error({ status: 400, code: "IncompleteBody", message: `the body did not match its Content-Length of ${length} bytes` });
  }
  await c.env.R2_NOTIFICATIONS.send(putObjectNotification(c.get("config").accountId, bucket, { key, size: object.size, etag: object.etag }));
  return new Response(null, { status: 200, headers: { etag: object.httpEtag } });
});

localR2Routes.all("/*", () => s3Error({ status: 405, code: "MethodNotAllowed", message: "the local S3 endpoint takes presigned PUTs only" }));

const denied = (message: string): S3Refusal => ({ status: 403, code: "AccessDenied", message });

/** An S3 error body: R2's endpoint answers XML too. */
function s3Error({ status, code, message }: S3Refusal): Response {
  const escape = (text: string) => text.replace(/[<>&"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${escape(message)}</Message></Error>\n`;
  return new Response(body, { status, headers: { "content-type": "application/xml" } });
}
