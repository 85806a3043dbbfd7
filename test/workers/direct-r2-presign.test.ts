import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { verifyPresignedRequest } from "../../workers/gateway/local-r2/presigned-request.ts";
import { presignPut } from "../../workers/gateway/r2-presign.ts";
import { parseConfig } from "../../workers/shared/config.ts";
import { imageStorageId, incomingKey } from "../../workers/shared/storage.ts";
import { API, AUTH, api, fixture, gatewayWith, json, jsonBody } from "./helpers.ts";

/** A deployment with R2 API credentials, and the local S3 endpoint `npm start` turns on. */
const R2 = {
  R2_ACCESS_KEY_ID: "test-access-key",
  R2_SECRET_ACCESS_KEY: "test-secret-key",
  R2_S3_ENDPOINT: "https://images.test/local-r2",
  LOCAL_R2_ENDPOINT: "enabled",
};
const signer = { endpoint: R2.R2_S3_ENDPOINT, accessKeyId: R2.R2_ACCESS_KEY_ID, secretAccessKey: R2.R2_SECRET_ACCESS_KEY };

const createDirectUpload = (fields: Record<string, unknown>, vars: Record<string, string> = R2) =>
  gatewayWith(vars, `${API}/v2/direct_upload`, { method: "POST", headers: { ...AUTH, "content-type": "application/json" }, body: JSON.stringify(fields) });

async function createWithPut(fields: Record<string, unknown>, vars: Record<string, string> = R2) {
  return (await json(await createDirectUpload(fields, vars))).result as { id: string; uploadURL: string; putURL: string; putHeaders: Record<string, string> };
}

function put(url: string, body: Uint8Array, headers: Record<string, string> = {}) {
  return gatewayWith(R2, url, { method: "PUT", body, headers: { "content-length": String(body.length), ...headers } });
}

async function s3Refusal(response: Response, status = 403): Promise<{ code: string; message: string }> {
  const text = await response.text();
  expect(response.status, text).toBe(status);
  expect(response.headers.get("content-type")).toBe("application/xml");
  const unescape = (xml: string) => xml.replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n)));
  return { code: /<Code>(.*)<\/Code>/.exec(text)![1], message: unescape(/<Message>(.*)<\/Message>/.exec(text)![1]) };
}

const withQuery = (url: string, name: string, value: string | null) => {
  const u = new URL(url);
  if (value === null) u.searchParams.delete(name);
  else u.searchParams.set(name, value);
  return u.href;
};

describe("the presigned PUT of a direct upload", () => {
  it("is offered beside the upload URL, for this image's incoming key, until the draft expires", async () => {
    const expiry = new Date(Date.now() + 60 * 60 * 1000).toISOString();
    const created = await createWithPut({ id: "presigned/one", expiry });
    expect(created.uploadURL).toContain("/upload/presigned/one/");
    const url = new URL(created.putURL);
    const life = url.pathname.split("/").at(-1)!;
    expect(url.origin + url.pathname).toBe(`${R2.R2_S3_ENDPOINT}/images-test/${incomingKey({ storageId: await imageStorageId("presigned/one"), life }).replace("%", "%25")}`);
    expect(url.searchParams.get("X-Amz-SignedHeaders")).toBe("host");
    const expires = Number(url.searchParams.get("X-Amz-Expires"));
    expect(expires).toBeLessThanOrEqual(3600);
    expect(expires).toBeGreaterThan(3590);
    expect(created.putHeaders).toEqual({});
    expect(await verifyPresignedRequest(new Request(created.putURL, { method: "PUT" }), signer)).toBeUndefined();
  });

  it("is absent without R2 credentials", async () => {
    const created = await json(await api("/v2/direct_upload", { method: "POST", ...jsonBody({ id: "presigned/none" }) }));
    expect(created.result.uploadURL).toBeDefined();
    expect(created.result).not.toHaveProperty("putURL");
    expect(created.result).not.toHaveProperty("putHeaders");
  });

  it("binds a declared size as Content-Length", async () => {
    const jpeg = fixture("landscapeJpeg");
    const { putURL, putHeaders } = await createWithPut({ id: "presigned/sized", size: jpeg.length });
    expect(putHeaders).toEqual({ "content-length": String(jpeg.length) });
    expect(new URL(putURL).searchParams.get("X-Amz-SignedHeaders")).toBe("content-length;host");
    const refused = await s3Refusal(await put(putURL, jpeg.subarray(0, jpeg.length - 1)));
    expect(refused.code).toBe("SignatureDoesNotMatch");
    expect(refused.message).toContain(`binds Content-Length to the size declared when it was made; this request sent ${jpeg.length - 1}`);
    expect(await env.BUCKET.head(incomingKey({ storageId: "presigned%2Fsized", life: new URL(putURL).pathname.split("/").at(-1)! }))).toBeNull();
    expect((await put(putURL, jpeg)).status).toBe(200);
  });

  it("lets maxBytes and size go up to MAX_DIRECT_UPLOAD_BYTES, and refuses a size over it", async () => {
    const created = await createWithPut({ id: "presigned/big", maxBytes: 50 * 1024 * 1024, size: 40 * 1024 * 1024 });
    expect(created.putHeaders["content-length"]).toBe(String(40 * 1024 * 1024));
    const over = await createDirectUpload({ size: 104857601 });
    expect((await json(over, 413)).errors[0].message).toBe("size is 104857601 bytes; the account takes at most 104857600 (MAX_DIRECT_UPLOAD_BYTES)");
    const overOwn = await createDirectUpload({ maxBytes: 1000, size: 1001 });
    expect((await json(overOwn, 400)).errors[0].message).toContain("over this upload URL's maxBytes of 1000");
    const noPut = await api("/v2/direct_upload", { method: "POST", ...jsonBody({ size: 10485761 }) });
    expect((await json(noPut, 413)).errors[0].message).toContain("(MAX_UPLOAD_BYTES)");
  });
});

describe("the local S3 endpoint", () => {
  it("stores a presigned PUT under its incoming key and answers the ETag", async () => {
    const jpeg = fixture("landscapeJpeg");
    const { putURL } = await createWithPut({ id: "local-s3-put" });
    const response = await put(putURL, jpeg);
    expect(response.status, await response.clone().text()).toBe(200);
    const key = decodeURIComponent(new URL(putURL).pathname.slice("/local-r2/images-test/".length));
    const stored = await env.BUCKET.get(key);
    expect(stored?.httpEtag).toBe(response.headers.get("etag"));
    expect(new Uint8Array(await stored!.arrayBuffer())).toEqual(jpeg);
  });

  it("refuses a URL signed with another secret", async () => {
    const { putURL } = await createWithPut({ id: "local-s3-forged" });
    const forged = await presignPut({ ...signer, secretAccessKey: "not-the-secret" }, "images-test", decodeURIComponent(new URL(putURL).pathname.slice(22)), Date.now() + 600_000);
    const refused = await s3Refusal(await put(forged.putURL, fixture("gif")));
    expect(refused).toMatchObject({ code: "SignatureDoesNotMatch" });
    expect(refused.message).toContain("The request signature we calculated does not match");
  });

  it("refuses an expired URL, naming when it expired", async () => {
    const signedAt = Date.now() - 3 * 60 * 60 * 1000;
    const { putURL } = await presignPut(signer, "images-test", "incoming/late/0123456789abcdef", signedAt + 2 * 60 * 1000, undefined, signedAt);
    const refused = await s3Refusal(await put(putURL, fixture("gif")));
    expect(refused.code).toBe("AccessDenied");
    expect(refused.message).toBe(`Request has expired: the URL was valid until ${new Date(Math.floor(signedAt / 1000) * 1000 + 120_000).toISOString()}`);
  });

  it("refuses the signature on another key, bucket or method", async () => {
    const { putURL } = await createWithPut({ id: "local-s3-moved" });
    const moved = putURL.replace(/\/incoming\/local-s3-moved\//, "/incoming/someone-else/");
    expect((await s3Refusal(await put(moved, fixture("gif")))).code).toBe("SignatureDoesNotMatch");
    const asGet = await gatewayWith(R2, putURL, { method: "POST", body: fixture("gif") });
    expect(asGet.status).toBe(405);
  });

  it("refuses a validly signed key outside incoming/, and another bucket", async () => {
    const original = await presignPut(signer, "images-test", "originals/victim/0123456789abcdef", Date.now() + 600_000);
    const refused = await s3Refusal(await put(original.putURL, fixture("gif")));
    expect(refused.message).toBe('presigned uploads may only write incoming/<storage id>/<life> keys, not "originals/victim/0123456789abcdef"');
    expect(await env.BUCKET.head("originals/victim/0123456789abcdef")).toBeNull();
    const elsewhere = await presignPut(signer, "other-bucket", "incoming/x/0123456789abcdef", Date.now() + 600_000);
    expect((await s3Refusal(await put(elsewhere.putURL, fixture("gif")))).message).toContain('bucket "other-bucket" is not this platform\'s bucket');
  });

  it("refuses a tampered query, a missing field and an unknown access key", async () => {
    const { putURL } = await createWithPut({ id: "local-s3-tampered" });
    const longer = withQuery(putURL, "X-Amz-Expires", "604800");
    expect((await s3Refusal(await put(longer, fixture("gif")))).code).toBe("SignatureDoesNotMatch");
    const unsigned = withQuery(putURL, "X-Amz-Signature", null);
    expect((await s3Refusal(await put(unsigned, fixture("gif")))).message).toContain("missing: X-Amz-Signature");
    const credential = new URL(putURL).searchParams.get("X-Amz-Credential")!.replace(signer.accessKeyId, "someone-else");
    expect((await s3Refusal(await put(withQuery(putURL, "X-Amz-Credential", credential), fixture("gif")))).code).toBe("InvalidAccessKeyId");
  });

  it("refuses a body over MAX_DIRECT_UPLOAD_BYTES", async () => {
    const vars = { ...R2, MAX_DIRECT_UPLOAD_BYTES: "1000" };
    const { putURL } = await createWithPut({ id: "local-s3-large" }, vars);
    const response = await gatewayWith(vars, putURL, { method: "PUT", body: fixture("landscapeJpeg"), headers: { "content-length": String(fixture("landscapeJpeg").length) } });
    expect((await s3Refusal(response, 400)).message).toContain("uploads take at most 1000 (MAX_DIRECT_UPLOAD_BYTES)");
  });

  it("is not there unless LOCAL_R2_ENDPOINT is enabled", async () => {
    const { putURL } = await createWithPut({ id: "local-s3-off" });
    const response = await gatewayWith({ ...R2, LOCAL_R2_ENDPOINT: "disabled" }, putURL, { method: "PUT", body: fixture("gif") });
    expect((await json(response, 404)).errors[0].message).toBe("no such route");
  });
});

describe("the presignature verifier", () => {
  it("agrees with the example in the S3 documentation (GET /test.txt, 24 May 2013)", async () => {
    const url =
      "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";
    const credentials = { accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" };
    const at = Date.UTC(2013, 4, 24, 1, 0, 0);
    expect(await verifyPresignedRequest(new Request(url), credentials, at)).toBeUndefined();
    expect(await verifyPresignedRequest(new Request(url.replace("test.txt", "test.txu")), credentials, at)).toMatchObject({ code: "SignatureDoesNotMatch" });
  });
});

describe("the direct-upload settings", () => {
  const base = { API_TOKEN: "t", ACCOUNT_ID: "0123abcd", ACCOUNT_HASH: "h" };

  it("default to no presigning, 100 MB, the images bucket and the account's own R2 endpoint", () => {
    expect(parseConfig(base).directUploads).toEqual({ maxBytes: 104857600, bucketName: "images", signer: undefined, localEndpoint: false });
    const signed = parseConfig({ ...base, R2_ACCESS_KEY_ID: "a", R2_SECRET_ACCESS_KEY: "b" }).directUploads.signer;
    expect(signed).toEqual({ endpoint: "https://0123abcd.r2.cloudflarestorage.com", accessKeyId: "a", secretAccessKey: "b" });
  });

  it("refuse half a credential, an endpoint that is no origin, a bucket name R2 would not take", () => {
    expect(() => parseConfig({ ...base, R2_ACCESS_KEY_ID: "a" })).toThrow("R2_SECRET_ACCESS_KEY is not set");
    expect(() => parseConfig({ ...base, R2_ACCESS_KEY_ID: "a", R2_SECRET_ACCESS_KEY: "b", R2_S3_ENDPOINT: "https://x.example/?q=1" })).toThrow("R2_S3_ENDPOINT must be");
    expect(() => parseConfig({ ...base, R2_BUCKET_NAME: "Images_1" })).toThrow("R2_BUCKET_NAME is not an R2 bucket name");
    expect(() => parseConfig({ ...base, LOCAL_R2_ENDPOINT: "yes" })).toThrow("LOCAL_R2_ENDPOINT must be enabled or disabled");
    expect(() => parseConfig({ ...base, MAX_DIRECT_UPLOAD_BYTES: "100MB" })).toThrow("MAX_DIRECT_UPLOAD_BYTES must be a positive integer");
  });
});
