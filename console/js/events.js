// An image's status stream (Server-Sent Events, `event: status` frames whose data is the StatusEvent JSON), read
// with fetch so that the same code runs in the browser and in Node, and so that an API token can go in a header
// (EventSource cannot send one). The stream ends by itself at `ready` or `failed`.

export const TERMINAL_STATUSES = ["ready", "failed"];

/**
 * Follows `url` and calls `onStatus(event)` for each status; resolves with the last event once the stream ends
 * (normally at a terminal status). Rejects with an Error whose `status` is the HTTP status if the stream is refused.
 */
export async function followStatusEvents(url, { headers = {}, signal, onStatus = () => {} } = {}) {
  const response = await fetch(url, { headers: { accept: "text/event-stream", ...headers }, signal });
  if (!response.ok || !response.body) {
    const error = new Error(await errorMessage(response));
    error.status = response.status;
    throw error;
  }
  let last;
  let buffer = "";
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) !== -1) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = frame
        .split("\n")
        .filter((line) => line.startsWith("data:"))
        .map((line) => line.slice(5).trimStart())
        .join("\n");
      if (!data) continue; // a keep-alive comment
      last = JSON.parse(data);
      onStatus(last);
      if (TERMINAL_STATUSES.includes(last.status)) {
        await reader.cancel().catch(() => {});
        return last;
      }
    }
  }
  return last;
}

/** The Cloudflare envelope's error messages of a failed response, or its status line. */
export async function errorMessage(response) {
  const text = await response.text().catch(() => "");
  try {
    const messages = (JSON.parse(text).errors ?? []).map((e) => e.message).filter(Boolean);
    if (messages.length > 0) return messages.join("; ");
  } catch {
    // not the envelope
  }
  return `HTTP ${response.status}${text ? `: ${text.slice(0, 200)}` : ""}`;
}
