/**
 * R2 event notifications, as R2 puts them on a queue (developers.cloudflare.com/r2/buckets/event-notifications,
 * "Message format"). Production: a notification rule on the bucket sends `incoming/` object-create events to the
 * `image-uploads` queue. Locally the gateway's S3 endpoint (workers/gateway/local-r2/) sends the same messages.
 */
export interface R2EventNotification {
  /** The Cloudflare account id. */
  account: string;
  action: R2Action;
  bucket: string;
  /** `size` and `eTag` are absent on delete actions. */
  object: { key: string; size?: number; eTag?: string };
  /** ISO-8601. */
  eventTime: string;
  /** CopyObject only. */
  copySource?: { bucket: string; object: string };
}

/** The actions of R2's `object-create` event type: each leaves a complete object under the key. */
export const OBJECT_CREATE_ACTIONS = ["PutObject", "CopyObject", "CompleteMultipartUpload"] as const;
export type R2Action = (typeof OBJECT_CREATE_ACTIONS)[number] | "DeleteObject" | "LifecycleDeletion" | (string & {});

export const isObjectCreate = (n: R2EventNotification) => (OBJECT_CREATE_ACTIONS as readonly string[]).includes(n.action);

/** Validates a queue message as an R2 event notification (once, at the consumer's edge). */
export function parseR2EventNotification(body: unknown): R2EventNotification {
  const b = body as Partial<R2EventNotification> | null;
  const o = b?.object as Partial<R2EventNotification["object"]> | undefined;
  const valid =
    !!b &&
    typeof b.account === "string" &&
    typeof b.action === "string" &&
    typeof b.bucket === "string" &&
    typeof b.eventTime === "string" &&
    !!o &&
    typeof o.key === "string" &&
    (o.size === undefined || (Number.isSafeInteger(o.size) && o.size >= 0)) &&
    (o.eTag === undefined || typeof o.eTag === "string");
  if (!valid) throw new Error(`malformed R2 event notification: ${JSON.stringify(body)?.slice(0, 200)}`);
  const notification: R2EventNotification = {
    account: b.account!,
    action: b.action!,
    bucket: b.bucket!,
    object: { key: o.key!, size: o.size, eTag: o.eTag },
    eventTime: b.eventTime!,
  };
  if (b.copySource) notification.copySource = b.copySource;
  return notification;
}

/** The notification R2 sends for a `PUT` of an object (what the local endpoint emits). */
export function putObjectNotification(account: string, bucket: string, object: { key: string; size: number; etag: string }): R2EventNotification {
  return { account, action: "PutObject", bucket, object: { key: object.key, size: object.size, eTag: object.etag }, eventTime: new Date().toISOString() };
}
