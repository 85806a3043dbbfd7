// One image: its details and live status, every named variant rendered side by side with its format and byte
// size, metadata and creator editing, the requireSignedURLs toggle, delete with confirmation, and a signed-URL
// generator (HMAC-SHA256 in the browser with a key from the keys API).
import { fetchRendition, variantUrl, viewableUrl } from "./delivery.js";
import { confirmDialog, field, formatBytes, h, notice, replace } from "./dom.js";
import { followStatusEvents, TERMINAL_STATUSES } from "./events.js";
import { parseDuration, signUrl } from "./signing.js";

export function imagePage(api, id, { onDeleted }) {
  const element = h("section", { class: "page" }, h("h1", {}, "Image"), notice("Loading…"));
  const live = new AbortController();
  const renditionUrls = [];

  async function render(image) {
    renditionUrls.splice(0).forEach((u) => URL.revokeObjectURL(u));
    const message = h("div", { "aria-live": "polite" });
    replace(
      element,
      h("p", {}, h("a", { href: "#/" }, "← All images")),
      h("h1", { class: "image-id" }, image.filename || image.id),
      details(image),
      message,
      renditions(image),
      h("div", { class: "columns" }, editForm(image, message), signForm(image)),
      h(
        "section",
        { class: "danger-zone", "aria-label": "Delete" },
        h("h2", {}, "Delete"),
        h("button", { type: "button", class: "danger", onclick: () => remove(image, message) }, "Delete image…"),
      ),
    );
    if (!TERMINAL_STATUSES.includes(image.status)) follow(image);
  }

  function details(image) {
    const rows = [
      ["ID", image.id],
      ["Status", image.status + (image.error ? ` — ${image.error}` : "")],
      ["Filename", image.filename ?? "—"],
      ["Uploaded", image.uploaded],
      ["Creator", image.creator ?? "—"],
    ];
    return h("dl", { class: "details" }, rows.map(([k, v]) => [h("dt", {}, k), h("dd", { "data-field": k.toLowerCase() }, v)]));
  }

  function renditions(image) {
    const list = h("ul", { class: "renditions", "aria-label": "Variants" });
    if (image.status !== "ready") list.append(h("li", {}, notice(`Variants appear once the image is ready (now ${image.status}).`)));
    else {
      for (const url of image.variants) {
        const name = url.slice(url.lastIndexOf("/") + 1);
        const caption = h("figcaption", {}, h("strong", {}, name), " ", h("span", { class: "format" }, "loading…"));
        const box = h("div", { class: "thumb placeholder" });
        list.append(h("li", {}, h("figure", { "data-variant": name }, box, caption)));
        viewableUrl(api, image, url)
          .then(fetchRendition)
          .then(({ objectUrl, type, size }) => {
            renditionUrls.push(objectUrl);
            box.classList.remove("placeholder");
            box.append(h("img", { src: objectUrl, alt: `${name} variant` }));
            replace(caption, h("strong", {}, name), " ", h("span", { class: "format" }, `${type.replace("image/", "")} · ${formatBytes(size)}`));
          })
          .catch((error) => {
            box.classList.add("broken");
            replace(caption, h("strong", {}, name), " ", h("span", { class: "format error" }, error.message));
          });
      }
    }
    return h("section", { "aria-label": "Variants" }, h("h2", {}, "Variants"), list);
  }

  function editForm(image, message) {
    const metadata = h("textarea", { name: "metadata", rows: 6, spellcheck: false, value: JSON.stringify(image.meta ?? {}, null, 2) });
    const creator = h("input", { name: "creator", value: image.creator ?? "" });
    const signed = h("input", {
      type: "checkbox",
      name: "requireSignedURLs",
      checked: image.requireSignedURLs,
      onchange: () => save({ requireSignedURLs: signed.checked }, "Access updated."),
    });
    async function save(changes, done) {
      try {
        await render(await api.patchImage(image.id, changes));
        replace(element.querySelector("[aria-live]"), notice(done));
      } catch (error) {
        replace(message, notice(error.message, "error"));
        if ("requireSignedURLs" in changes) signed.checked = !signed.checked;
      }
    }
    return h(
      "form",
      {
        class: "card-form",
        "aria-label": "Edit image",
        onsubmit: (e) => {
          e.preventDefault();
          let meta;
          try {
            meta = JSON.parse(metadata.value || "{}");
          } catch (error) {
            return replace(message, notice(`Metadata is not valid JSON: ${error.message}`, "error"));
          }
          if (meta === null || typeof meta !== "object" || Array.isArray(meta)) return replace(message, notice("Metadata must be a JSON object", "error"));
          save({ metadata: meta, creator: creator.value === "" ? null : creator.value }, "Saved.");
        },
      },
      h("h2", {}, "Edit"),
      field("Metadata (JSON object, at most 1024 bytes)", metadata),
      field("Creator", creator),
      h("button", { type: "submit", class: "primary" }, "Save metadata"),
      h("label", { class: "check" }, signed, " Require signed URLs (unsigned delivery URLs answer 403)"),
    );
  }

  function signForm(image) {
    const names = image.variants.map((u) => u.slice(u.lastIndexOf("/") + 1));
    const variant = h("input", { name: "variant", value: names[0] ?? "public", list: "sign-variants" });
    const keyChoice = h("select", { name: "key" }, h("option", { value: "" }, "loading keys…"));
    const expires = h("input", { name: "expires", value: "1h", size: 6 });
    const output = h("output", { class: "signed-url", name: "url" });
    api.signingKeys().then(
      (keys) => replace(keyChoice, keys.map((k) => h("option", { value: k.name }, k.name))),
      (error) => replace(keyChoice, h("option", { value: "" }, `no keys: ${error.message}`)),
    );
    return h(
      "form",
      {
        class: "card-form",
        "aria-label": "Signed URL",
        onsubmit: async (e) => {
          e.preventDefault();
          const seconds = expires.value.trim() === "" ? undefined : parseDuration(expires.value);
          if (expires.value.trim() !== "" && seconds === undefined) return replace(output, notice("Expiry must be like 90s, 15m, 1h, 7d or 2w (or empty for never)", "error"));
          try {
            const key = (await api.signingKeys()).find((k) => k.name === keyChoice.value);
            if (!key) throw new Error("choose a signing key");
            const url = String(await signUrl(new URL(variantUrl(image, variant.value.trim())), key.value, seconds === undefined ? undefined : Date.now() + seconds * 1000));
            replace(
              output,
              h("code", {}, url),
              h("span", { class: "row" }, h("button", { type: "button", onclick: () => navigator.clipboard?.writeText(url) }, "Copy"), h("a", { href: url, target: "_blank", rel: "noopener" }, "Open")),
            );
          } catch (error) {
            replace(output, notice(error.message, "error"));
          }
        },
      },
      h("h2", {}, "Signed URL"),
      h("datalist", { id: "sign-variants" }, names.map((n) => h("option", { value: n }))),
      field("Variant", variant, "a named variant or flexible options, e.g. w=640,fit=cover"),
      field("Signing key", keyChoice),
      field("Expires in", expires, "90s, 15m, 1h, 7d, 2w; empty: never"),
      h("button", { type: "submit", class: "primary" }, "Generate signed URL"),
      output,
    );
  }

  async function remove(image, message) {
    if (!(await confirmDialog(`Delete ${image.filename || image.id}? Its original and every rendition are removed.`, "Delete"))) return;
    try {
      await api.deleteImage(image.id);
      onDeleted(image);
    } catch (error) {
      replace(message, notice(error.message, "error"));
    }
  }

  async function follow(image) {
    try {
      await followStatusEvents(api.imageEventsUrl(image.id), {
        headers: api.headers,
        signal: live.signal,
        onStatus: (event) => {
          const status = element.querySelector('[data-field="status"]');
          if (status) status.textContent = event.status + (event.error ? ` — ${event.error}` : "");
        },
      });
      if (!live.signal.aborted) render(await api.getImage(image.id));
    } catch {
      // left the page, or the stream broke: the page shows the last state it had
    }
  }

  api.getImage(id).then(render, (error) => replace(element, h("p", {}, h("a", { href: "#/" }, "← All images")), notice(error.message, "error")));
  return {
    element,
    leave: () => {
      live.abort();
      renditionUrls.forEach((u) => URL.revokeObjectURL(u));
    },
  };
}
