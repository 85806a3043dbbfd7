// Uploads: each file gets its own one-time direct-upload URL (asked for with the token), goes there with
// XMLHttpRequest so its bytes-sent progress can be shown, and is then followed on `<uploadURL>/events`, whose
// only credential is the upload URL itself, until it is ready or failed.
import { followStatusEvents, errorMessage } from "./events.js";
import { formatBytes, h } from "./dom.js";

const PARALLEL_UPLOADS = 3;

/** The upload panel: a drop zone, a file picker, and one row per file. `onSettled()` fires as each reaches ready or failed. */
export function uploadPanel(api, { onSettled = () => {} } = {}) {
  const list = h("ol", { class: "uploads", "aria-label": "Uploads" });
  const input = h("input", { type: "file", multiple: true, accept: "image/*", class: "visually-hidden", onchange: () => enqueue(input.files) });
  const pick = h("button", { type: "button", onclick: () => input.click() }, "Choose files…");
  const zone = h(
    "section",
    { class: "dropzone", "aria-label": "Upload images" },
    h("p", {}, "Drop images here, or ", pick),
    input,
    list,
  );
  for (const type of ["dragenter", "dragover"]) {
    zone.addEventListener(type, (e) => {
      e.preventDefault();
      zone.classList.add("dragging");
    });
  }
  zone.addEventListener("dragleave", (e) => {
    if (!zone.contains(e.relatedTarget)) zone.classList.remove("dragging");
  });
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("dragging");
    enqueue(e.dataTransfer.files);
  });

  const waiting = [];
  let running = 0;
  function enqueue(files) {
    for (const file of files) {
      const row = uploadRow(file);
      list.append(row.element);
      waiting.push({ file, row });
    }
    input.value = "";
    pump();
  }
  function pump() {
    while (running < PARALLEL_UPLOADS && waiting.length > 0) {
      const { file, row } = waiting.shift();
      running++;
      uploadOne(api, file, row)
        .then((settled) => settled && onSettled())
        .finally(() => {
          running--;
          pump();
        });
    }
  }
  return zone;
}

/** One file's row: name, size, a progress bar of bytes sent, and its state (`data-status` for tests and CSS). */
function uploadRow(file) {
  const progress = h("progress", { max: file.size || 1, value: 0, "aria-label": `Bytes of ${file.name} sent` });
  const state = h("span", { class: "state" }, "waiting");
  const reason = h("span", { class: "reason" });
  const element = h("li", { class: "upload", "data-status": "waiting" }, h("span", { class: "name" }, file.name), h("span", { class: "size" }, formatBytes(file.size)), progress, state, reason);
  return {
    element,
    progress,
    set(status, detail = "") {
      element.dataset.status = status;
      state.textContent = status;
      reason.textContent = detail;
    },
  };
}

async function uploadOne(api, file, row) {
  try {
    row.set("preparing");
    const { id, uploadURL } = await api.directUpload();
    row.element.dataset.imageId = id;
    row.set("uploading");
    await sendFile(uploadURL, file, (sent) => (row.progress.value = sent));
    row.progress.value = row.progress.max;
    const last = await followStatusEvents(`${uploadURL}/events`, { onStatus: (event) => row.set(event.status, event.error ?? "") });
    if (last?.status === "ready" || last?.status === "failed") return true;
    row.set("failed", "the status stream ended before the image was ready");
    return false;
  } catch (error) {
    row.set("failed", error.message);
    return false;
  }
}

/** POSTs `file` as the multipart `file` field; `onProgress(bytesSent)` as it goes; rejects with the API's message. */
function sendFile(uploadURL, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", uploadURL);
    xhr.upload.addEventListener("progress", (e) => onProgress(Math.min(e.loaded, file.size)));
    xhr.addEventListener("load", async () => {
      if (xhr.status >= 200 && xhr.status < 300) return resolve();
      reject(new Error(await errorMessage(new Response(xhr.responseText, { status: xhr.status }))));
    });
    xhr.addEventListener("error", () => reject(new Error("the upload did not reach the platform (network error)")));
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
}
