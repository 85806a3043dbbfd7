// DOM building without innerHTML: API data (ids, filenames, metadata, error messages) is hostile, so every string
// becomes a text node or a property, never markup.

/** Props set as attributes (the rest are set as DOM properties). */
const ATTRIBUTES = new Set(["class", "for", "role", "list"]);

/**
 * `h("button", { type: "button", onclick }, "Delete")`: an element with properties (`on*` become listeners,
 * `class`/`for`/`role`/`list`/`aria-*`/`data-*` become attributes, `false`/`undefined` are skipped) and children (strings become
 * text nodes; null/false are skipped; arrays are flattened).
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") el.addEventListener(name.slice(2), value);
    else if (ATTRIBUTES.has(name) || name.startsWith("aria-") || name.startsWith("data-")) {
      el.setAttribute(name, value === true ? "" : String(value));
    } else el[name] = value;
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A labelled form control: `<label>Text <control></label>` keeps the label tied to it without ids. */
export function field(label, control, hint) {
  return h("label", { class: "field" }, h("span", { class: "label" }, label), control, hint ? h("small", {}, hint) : null);
}

/** A status line for a region (`role=status` is announced by screen readers). */
export function notice(text, kind = "info") {
  return h("p", { class: `notice ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

/** "12.3 kB" for a byte count. */
export function formatBytes(n) {
  if (n < 1000) return `${n} B`;
  const units = ["kB", "MB", "GB"];
  let value = n;
  let unit = -1;
  do {
    value /= 1000;
    unit++;
  } while (value >= 1000 && unit < units.length - 1);
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** Asks a yes/no question in a modal `<dialog>` (focus is trapped and Escape cancels); resolves true for yes. */
export function confirmDialog(question, yesLabel) {
  return new Promise((resolve) => {
    const dialog = h(
      "dialog",
      { class: "confirm", "aria-label": question },
      h("form", { method: "dialog" }, h("p", {}, question), h("menu", {}, h("button", { value: "no", autofocus: true }, "Cancel"), h("button", { value: "yes", class: "danger" }, yesLabel))),
    );
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue === "yes");
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
