// Named variants: the list, a form that creates or edits one, delete with confirmation, and a live preview of the
// form's options on a chosen image (rendered as the equivalent flexible variant, so nothing is saved to see it).
import { variantUrl, viewableUrl } from "./delivery.js";
import { confirmDialog, field, h, notice, replace } from "./dom.js";
import { FITS, METADATA_MODES } from "./vocabulary.js";

export function variantsPage(api) {
  const message = h("div", { "aria-live": "polite" });
  const table = h("tbody");
  const previewImages = h("select", { name: "previewImage", onchange: () => preview() });
  const previewBox = h("div", { class: "thumb preview placeholder" });
  const previewNote = h("p", { class: "hint" });

  const id = h("input", { name: "id", required: true, pattern: "[A-Za-z0-9_\\-]{1,99}", placeholder: "e.g. thumb" });
  const fit = h("select", { name: "fit" }, FITS.map((f) => h("option", { value: f }, f)));
  const width = h("input", { name: "width", type: "number", min: 1, max: 12000, required: true, value: 320 });
  const height = h("input", { name: "height", type: "number", min: 1, max: 12000, required: true, value: 320 });
  const metadata = h("select", { name: "metadata" }, METADATA_MODES.map((m) => h("option", { value: m, selected: m === "none" }, m)));
  const never = h("input", { type: "checkbox", name: "neverRequireSignedURLs" });
  const submit = h("button", { type: "submit", class: "primary" }, "Create variant");
  const cancel = h("button", { type: "button", hidden: true, onclick: () => edit(undefined) }, "Cancel edit");
  let editing;
  const form = h(
    "form",
    { class: "card-form", "aria-label": "Variant", oninput: () => preview(), onsubmit: (e) => (e.preventDefault(), save()) },
    h("h2", {}, "New variant"),
    field("Name", id),
    field("Fit", fit),
    h("div", { class: "row" }, field("Width", width), field("Height", height)),
    field("Metadata", metadata),
    h("label", { class: "check" }, never, " Never require signed URLs"),
    h("div", { class: "row" }, submit, cancel),
  );

  function edit(variant) {
    editing = variant;
    form.querySelector("h2").textContent = variant ? `Edit ${variant.id}` : "New variant";
    id.value = variant?.id ?? "";
    id.disabled = Boolean(variant);
    fit.value = variant?.options.fit ?? "scale-down";
    width.value = variant?.options.width ?? 320;
    height.value = variant?.options.height ?? 320;
    metadata.value = variant?.options.metadata ?? "none";
    never.checked = variant?.neverRequireSignedURLs ?? false;
    submit.textContent = variant ? "Save changes" : "Create variant";
    cancel.hidden = !variant;
    (variant ? fit : id).focus();
    preview();
  }

  async function save() {
    const options = { fit: fit.value, width: Number(width.value), height: Number(height.value), metadata: metadata.value };
    try {
      if (editing) await api.patchVariant(editing.id, { options, neverRequireSignedURLs: never.checked });
      else await api.createVariant({ id: id.value.trim(), options, neverRequireSignedURLs: never.checked });
      replace(message, notice(editing ? `Saved ${editing.id}.` : `Created ${id.value.trim()}.`));
      edit(undefined);
      await list();
    } catch (error) {
      replace(message, notice(error.message, "error"));
    }
  }

  async function remove(variant) {
    if (!(await confirmDialog(`Delete the variant ${variant.id}? Its URLs stop working.`, "Delete"))) return;
    try {
      await api.deleteVariant(variant.id);
      replace(message, notice(`Deleted ${variant.id}.`));
      if (editing?.id === variant.id) edit(undefined);
      await list();
    } catch (error) {
      replace(message, notice(error.message, "error"));
    }
  }

  async function list() {
    let variants;
    try {
      variants = await api.listVariants();
    } catch (error) {
      return replace(message, notice(error.message, "error"));
    }
    replace(
      table,
      variants.map((v) =>
        h(
          "tr",
          { "data-variant": v.id },
          h("th", { scope: "row" }, v.id),
          h("td", {}, v.options.fit),
          h("td", {}, `${v.options.width} × ${v.options.height}`),
          h("td", {}, v.options.metadata),
          h("td", {}, v.neverRequireSignedURLs ? "never" : "if the image does"),
          h(
            "td",
            { class: "actions" },
            h("button", { type: "button", onclick: () => edit(v), "aria-label": `Edit ${v.id}` }, "Edit"),
            h("button", { type: "button", class: "danger", onclick: () => remove(v), "aria-label": `Delete ${v.id}` }, "Delete"),
          ),
        ),
      ),
    );
  }

  // Ready images to preview on, newest first (the first page is enough to choose from).
  const images = new Map();
  api.listImages({ perPage: 50 }).then(
    (result) => {
      for (const image of result.images.filter((i) => i.status === "ready")) images.set(image.id, image);
      replace(previewImages, [...images.values()].map((i) => h("option", { value: i.id }, i.filename || i.id)));
      if (images.size === 0) previewNote.textContent = "Upload an image to preview variants on it.";
      preview();
    },
    (error) => (previewNote.textContent = error.message),
  );

  let previewTimer;
  function preview() {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(async () => {
      const image = images.get(previewImages.value);
      if (!image) return;
      const options = `w=${Number(width.value) || 1},h=${Number(height.value) || 1},fit=${fit.value},metadata=${metadata.value}`;
      const img = h("img", { alt: `Preview of ${options}` });
      previewBox.classList.add("placeholder");
      img.addEventListener("load", () => {
        previewBox.classList.remove("placeholder", "broken");
        previewNote.textContent = `${options}: ${img.naturalWidth} × ${img.naturalHeight} px`;
      });
      img.addEventListener("error", () => {
        previewBox.classList.add("broken");
        previewNote.textContent = "This preview needs flexible variants (FLEXIBLE_VARIANTS); save the variant to see it.";
      });
      img.src = await viewableUrl(api, image, variantUrl(image, options));
      replace(previewBox, img);
    }, 250);
  }

  list();
  return h(
    "section",
    { class: "page" },
    h("h1", {}, "Variants"),
    message,
    h(
      "div",
      { class: "table-wrap" },
      h("table", { class: "variants" }, h("thead", {}, h("tr", {}, ["Name", "Fit", "Size", "Metadata", "Signed URLs", ""].map((t) => h("th", { scope: "col" }, t)))), table),
    ),
    h("div", { class: "columns" }, form, h("section", { class: "card-form", "aria-label": "Preview" }, h("h2", {}, "Preview"), field("Image", previewImages), previewBox, previewNote)),
  );
}
