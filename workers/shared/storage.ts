/**
 * R2 key layout (one bucket):
 *   originals/<image id>                          the uploaded bytes, never rewritten after the upload
 *   renditions/<image id>/<fingerprint>.<format>  one rendered output; the fingerprint hashes the transform,
 *                                                 so a changed variant definition renders to a new key
 */
export const originalKey = (imageId: string) => `originals/${imageId}`;
export const renditionPrefix = (imageId: string) => `renditions/${imageId}/`;
export const renditionKey = (imageId: string, fingerprint: string, format: string) => `${renditionPrefix(imageId)}${fingerprint}.${format}`;

/** Deletes every object under a prefix, a page at a time. */
export async function deletePrefix(bucket: R2Bucket, prefix: string): Promise<number> {
  let deleted = 0;
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix, cursor });
    if (page.objects.length > 0) {
      await bucket.delete(page.objects.map((o) => o.key));
      deleted += page.objects.length;
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return deleted;
}
