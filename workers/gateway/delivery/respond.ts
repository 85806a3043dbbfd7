/**
 * Answers a GET or HEAD for stored bytes: `304` for a matching `If-None-Match`, `206` for a satisfiable single
 * `Range` (`416` when it is not), `Content-Length` on every answer including HEAD.
 */
export async function respondWithBytes(
  request: Request,
  body: ReadableStream | Uint8Array,
  size: number,
  headers: Headers,
): Promise<Response> {
  const etag = headers.get("etag");
  const ifNoneMatch = request.headers.get("if-none-match");
  if (etag && ifNoneMatch && ifNoneMatch.split(",").some((t) => t.trim() === etag || t.trim() === "*")) {
    discard(body);
    headers.delete("content-length");
    return new Response(null, { status: 304, headers });
  }
  headers.set("accept-ranges", "bytes");
  const range = parseRange(request.headers.get("range"), size);
  if (range === "unsatisfiable") {
    discard(body);
    headers.set("content-range", `bytes */${size}`);
    headers.set("content-length", "0");
    return new Response(null, { status: 416, headers });
  }
  if (range) {
    headers.set("content-range", `bytes ${range.start}-${range.end}/${size}`);
    headers.set("content-length", String(range.end - range.start + 1));
    if (request.method === "HEAD") {
      discard(body);
      return new Response(null, { status: 206, headers });
    }
    const bytes = body instanceof Uint8Array ? body : new Uint8Array(await new Response(body).arrayBuffer());
    return new Response(bytes.subarray(range.start, range.end + 1), { status: 206, headers });
  }
  headers.set("content-length", String(size));
  if (request.method === "HEAD") {
    discard(body);
    return new Response(null, { headers });
  }
  return new Response(body, { headers });
}

/**
 * A single byte range (`bytes=a-b`, `bytes=a-`, `bytes=-n`). Multiple ranges and malformed headers are ignored and
 * the whole body is sent, as RFC 9110 allows; a range that starts past the end is unsatisfiable.
 */
export function parseRange(header: string | null, size: number): { start: number; end: number } | "unsatisfiable" | undefined {
  if (!header) return undefined;
  const m = /^bytes=([0-9]*)-([0-9]*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  if (m[1] === "") {
    const suffix = Number(m[2]);
    if (suffix === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size) return "unsatisfiable";
  if (end < start) return undefined;
  return { start, end };
}

function discard(body: ReadableStream | Uint8Array): void {
  if (body instanceof ReadableStream) body.cancel().catch(() => {});
}
