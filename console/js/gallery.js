// The gallery: thumbnails of a page of the v2 list, filtered by creator and metadata, paged with the
// continuation token (a stack of the tokens that led here gives "Previous").
import { THUMBNAIL_OPTIONS, variantUrl, viewableUrl } from "./delivery.js";
import { field, h, notice, replace } from "./dom.js";
import { MAX_METADATA_FILTERS, METADATA_FILTER_OPERATORS } from "./vocabulary.js";

/** Page sizes offered; the v2 list takes 10 to 10 000. */
const PAGE_SIZES = [10, 24, 48, 96];

/** Kept for the tab's life so that going to an image and back returns to the same page and filters. */
const state = { creator: "", filters: [], tokens: [undefined], thumbnail: THUMBNAIL_OPTIONS, perPage: 24 };

export function galleryPage(api, { variants }) {
  const grid = h("ul", { class: "gallery", "aria-label": "Images", "aria-live": "polite" });
  const status = h("div");
  const pager = h("nav", { class: "pager", "aria-label": "Pages" });
  const filterRows = h("div", { class: "filter-rows" });

  const creator = h("input", { type: "search", name: "creator", value: state.creator, placeholder: "any creator" });
  const thumbnail = h(
    "select",
    { name: "thumbnail", onchange: () => ((state.thumbnail = thumbnail.value), load()) },
    h("option", { value: THUMBNAIL_OPTIONS, selected: state.thumbnail === THUMBNAIL_OPTIONS }, `flexible (${THUMBNAIL_OPTIONS})`),
    variants.map((v) => h("option", { value: v.id, selected: state.thumbnail === v.id }, v.id)),
  );
  const perPage = h(
    "select",
    { name: "perPage", onchange: () => ((state.perPage = Number(perPage.value)), (state.tokens = [undefined]), load()) },
    PAGE_SIZES.map((n) => h("option", { value: n, selected: n === state.perPage }, String(n))),
  );
  const addFilter = h("button", { type: "button", name: "add-filter", onclick: () => addFilterRow() }, "Add metadata filter");
  const form = h(
    "form",
    {
      class: "filters",
      onsubmit: (e) => {
        e.preventDefault();
        state.creator = creator.value;
        state.filters = [...filterRows.querySelectorAll(".filter-row")]
          .map((row) => ({ field: row.querySelector("[name=field]").value.trim(), op: row.querySelector("[name=op]").value, value: row.querySelector("[name=value]").value }))
          .filter((f) => f.field !== "");
        state.tokens = [undefined];
        load();
      },
    },
    h("div", { class: "row" }, field("Creator", creator), field("Thumbnails", thumbnail), field("Per page", perPage)),
    filterRows,
    h("div", { class: "row" }, addFilter, h("button", { type: "submit", class: "primary" }, "Apply filters")),
  );
  for (const f of state.filters) addFilterRow(f, { focus: false });

  function addFilterRow(f = { field: "", op: "eq", value: "" }, { focus = true } = {}) {
    if (filterRows.children.length >= MAX_METADATA_FILTERS) return;
    const row = h(
      "fieldset",
      { class: "filter-row" },
      h("legend", { class: "visually-hidden" }, "Metadata filter"),
      field("Metadata field", h("input", { name: "field", value: f.field, placeholder: "e.g. album or region.name" })),
      field("Operator", h("select", { name: "op" }, METADATA_FILTER_OPERATORS.map(([value, label]) => h("option", { value, selected: value === f.op }, label)))),
      field("Value", h("input", { name: "value", value: f.value })),
      h("button", { type: "button", class: "icon", "aria-label": "Remove this filter", onclick: () => (row.remove(), (addFilter.disabled = false)) }, "✕"),
    );
    filterRows.append(row);
    addFilter.disabled = filterRows.children.length >= MAX_METADATA_FILTERS;
    if (focus) row.querySelector("[name=field]").focus();
  }

  // Uploads finishing reload the page while an earlier load may still be answering: only the latest one draws.
  let loads = 0;
  async function load() {
    const mine = ++loads;
    replace(status, notice("Loading…"));
    const page = state.tokens.length;
    const query = [
      ...(state.creator ? [["creator", state.creator]] : []),
      ...state.filters.map((f) => {
        return [`meta.${f.field}[${f.op}]`, f.value];
      }),
    ];
    let result;
    try {
      result = await api.listImages({ continuationToken: state.tokens.at(-1), perPage: state.perPage, query });
    } catch (error) {
      if (mine !== loads) return;
      replace(grid);
      replace(pager);
      return replace(status, notice(error.message, "error"));
    }
    if (mine !== loads) return;
    replace(status, result.images.length === 0 ? notice(page === 1 ? "No images match." : "No more images.") : null);
    replace(grid, result.images.map((image) => galleryCard(api, image, state.thumbnail)));
    replace(
      pager,
      h("button", { type: "button", disabled: page === 1, onclick: () => (state.tokens.pop(), load()) }, "← Previous"),
      h("span", {}, `Page ${page}`),
      h("button", { type: "button", disabled: !result.continuation_token, onclick: () => (state.tokens.push(result.continuation_token), load()) }, "Next →"),
    );
  }
  load();
  return { element: h("section", { class: "page" }, h("h1", {}, "Images"), form, status, grid, pager), reload: () => ((state.tokens = [undefined]), load()) };
}

/** One image: a link to its page, with a thumbnail over a placeholder box, or its state while it has none. */
function galleryCard(api, image, thumbnail) {
  const label = image.filename || image.id;
  const box = h("span", { class: "thumb placeholder", "aria-hidden": "true" });
  if (image.status === "ready") {
    const fallback = variantUrl(image, "public");
    const img = h("img", { alt: "", loading: "lazy", decoding: "async" });
    img.addEventListener("load", () => box.classList.remove("placeholder"), { once: true });
    // Flexible variants may be off on this deployment: fall back once to the `public` variant.
    img.addEventListener("error", async () => {
      if (img.dataset.fallback || !fallback) return box.classList.add("broken");
      img.dataset.fallback = "1";
      img.src = await viewableUrl(api, image, fallback);
    });
    viewableUrl(api, image, variantUrl(image, thumbnail))
      .then((url) => (img.src = url))
      .catch(() => box.classList.add("broken"));
    box.append(img);
  } else {
    box.append(h("span", { class: `badge ${image.status}` }, image.status));
  }
  return h(
    "li",
    { class: "card", "data-image-id": image.id, "data-status": image.status },
    h("a", { href: `#/image/${encodeURIComponent(image.id)}` }, box, h("span", { class: "caption" }, label)),
    h("span", { class: "meta" }, [image.creator ? `by ${image.creator}` : null, image.requireSignedURLs ? "signed URLs" : null].filter(Boolean).join(" · ")),
  );
}
