// The management API as the console calls it: the token in an Authorization header (never in a URL), answers
// unwrapped from the Cloudflare envelope, failures thrown as ApiFailure carrying the API's own message.
import { errorMessage } from "./events.js";

export class ApiFailure extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** An image id in a URL path: its `/` subpaths kept, each segment percent-encoded. */
export const idPath = (id) => id.split("/").map(encodeURIComponent).join("/");

export function createApi({ token, accountId }) {
  const base = `${location.origin}/client/v4/accounts/${encodeURIComponent(accountId)}/images`;
  const headers = { authorization: `Bearer ${token}` };

  async function call(method, path, { query, json } = {}) {
    const url = new URL(base + path);
    for (const [k, v] of query ?? []) url.searchParams.append(k, v);
    let response;
    try {
      response = await fetch(url, {
        method,
        headers: json ? { ...headers, "content-type": "application/json" } : headers,
        body: json ? JSON.stringify(json) : undefined,
      });
    } catch (error) {
      throw new ApiFailure(0, `the API did not answer (${error.message})`);
    }
    if (!response.ok) throw new ApiFailure(response.status, await errorMessage(response));
    return (await response.json()).result;
  }

  let keys;
  return {
    headers,
    stats: () => call("GET", "/v1/stats"),
    /** One page of the v2 list; `query` holds the filters as [name, value] pairs. */
    listImages: ({ continuationToken, perPage = 30, query = [] } = {}) =>
      call("GET", "/v2", {
        query: [["per_page", String(perPage)], ...(continuationToken ? [["continuation_token", continuationToken]] : []), ...query],
      }),
    getImage: (id) => call("GET", `/v1/${idPath(id)}`),
    patchImage: (id, body) => call("PATCH", `/v1/${idPath(id)}`, { json: body }),
    deleteImage: (id) => call("DELETE", `/v1/${idPath(id)}`),
    imageEventsUrl: (id) => `${base}/v1/${idPath(id)}/events`,
    directUpload: (fields = {}) => call("POST", "/v2/direct_upload", { json: fields }),
    listVariants: async () => Object.values((await call("GET", "/v1/variants")).variants),
    createVariant: (variant) => call("POST", "/v1/variants", { json: variant }),
    patchVariant: (id, changes) => call("PATCH", `/v1/variants/${encodeURIComponent(id)}`, { json: changes }),
    deleteVariant: (id) => call("DELETE", `/v1/variants/${encodeURIComponent(id)}`),
    /** The signing keys, read once per sign-in (every signed thumbnail needs them); a refusal is asked again next time. */
    signingKeys() {
      keys ??= call("GET", "/v1/keys").then((r) => r.keys);
      keys.catch(() => (keys = undefined));
      return keys;
    },
  };
}
