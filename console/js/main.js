// The console's shell: sign-in (the token and account id live in sessionStorage, for this tab only), the
// navigation, and a hash router (`#/`, `#/image/<id>`, `#/variants`) so that no path of the console's own can
// shadow the API's and any page works as a bookmark on static assets.
import { createApi } from "./api.js";
import { field, h, notice, replace } from "./dom.js";
import { galleryPage } from "./gallery.js";
import { imagePage } from "./image-page.js";
import { uploadPanel } from "./upload.js";
import { variantsPage } from "./variants-page.js";

const SESSION_KEY = "edge-images.session";
const main = document.querySelector("main");
const nav = document.querySelector("header nav");

function signedIn() {
  try {
    const session = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? "null");
    return session?.token && session?.accountId ? session : undefined;
  } catch {
    return undefined;
  }
}

function signInPage() {
  replace(nav);
  const token = h("input", { name: "token", type: "password", required: true, autocomplete: "off", spellcheck: false });
  const account = h("input", { name: "account", required: true, autocomplete: "off", spellcheck: false, pattern: "[0-9A-Za-z_\\-]+" });
  const message = h("div", { "aria-live": "polite" });
  const form = h(
    "form",
    {
      class: "card-form sign-in",
      onsubmit: async (e) => {
        e.preventDefault();
        const session = { token: token.value.trim(), accountId: account.value.trim() };
        replace(message, notice("Checking…"));
        try {
          await createApi(session).stats();
        } catch (error) {
          return replace(message, notice(error.message, "error"));
        }
        sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
        route();
      },
    },
    h("h1", {}, "Sign in"),
    h("p", {}, "Use the API token and account id that ", h("code", {}, "npm start"), " printed (they are in ", h("code", {}, ".dev.vars"), "), or a scoped token. They are kept for this tab only."),
    field("API token", token),
    field("Account id", account),
    h("button", { type: "submit", class: "primary" }, "Sign in"),
    message,
  );
  replace(main, form);
  token.focus();
}

let current;
let routes = 0;
async function route() {
  const mine = ++routes;
  current?.leave?.();
  current = undefined;
  const session = signedIn();
  if (!session) return signInPage();
  const api = createApi(session);
  const path = location.hash.replace(/^#/, "") || "/";
  replace(
    nav,
    h("a", { href: "#/", "aria-current": path === "/" ? "page" : undefined }, "Images"),
    h("a", { href: "#/variants", "aria-current": path === "/variants" ? "page" : undefined }, "Variants"),
    h("button", { type: "button", onclick: signOut }, "Sign out"),
  );
  if (path.startsWith("/image/")) {
    current = imagePage(api, decodeURIComponent(path.slice("/image/".length)), { onDeleted: () => (location.hash = "#/") });
    replace(main, current.element);
  } else if (path === "/variants") {
    replace(main, variantsPage(api));
  } else {
    let variants = [];
    try {
      variants = await api.listVariants();
    } catch (error) {
      if (error.status === 401 || error.status === 403) return signOut(error.message);
    }
    if (mine !== routes) return; // navigated elsewhere meanwhile
    const gallery = galleryPage(api, { variants });
    replace(main, uploadPanel(api, { onSettled: () => gallery.reload() }), gallery.element);
  }
  main.focus({ preventScroll: true });
}

function signOut(reason) {
  sessionStorage.removeItem(SESSION_KEY);
  signInPage();
  if (typeof reason === "string") main.querySelector("[aria-live]").append(notice(reason, "error"));
}

window.addEventListener("hashchange", route);
route();
