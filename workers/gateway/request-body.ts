import type { Context } from "hono";
import { badRequest } from "../shared/errors.ts";

/** A request's multipart (or urlencoded) form. */
export async function readForm(c: Context): Promise<FormData> {
  const type = c.req.header("content-type") ?? "";
  if (!/^multipart\/form-data|^application\/x-www-form-urlencoded/i.test(type)) {
    throw badRequest(`expected a multipart/form-data body, got ${JSON.stringify(type || "no content type")}`);
  }
  try {
    return await c.req.raw.formData();
  } catch {
    throw badRequest("the multipart body could not be parsed");
  }
}

/** A request's JSON body, which must be an object. */
export async function readJsonObject(c: Context): Promise<Record<string, unknown>> {
  let body: unknown;
  try {
    body = await c.req.json();
  } catch {
    throw badRequest("expected a JSON object body");
  }
  if (!body || typeof body !== "object" || Array.isArray(body)) throw badRequest("expected a JSON object body");
  return body as Record<string, unknown>;
}
