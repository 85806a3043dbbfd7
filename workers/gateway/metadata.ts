import { badRequest, quote } from "../shared/errors.ts";

/** Cloudflare's limit on an image's user metadata, counted on its JSON text in UTF-8. */
export const MAX_METADATA_BYTES = 1024;

type Json = string | number | boolean | JsonObject | Json[];
interface JsonObject {
  [key: string]: Json;
}

const FIELD = /^metadata((?:\[[^[\]]*\])+)$/;

/**
 * Rebuilds the metadata object that the `cloudflare` SDK flattened into multipart fields, or undefined when the
 * form has none. The SDK (v7, `internal/uploads.ts` `addFormValue`) sends `{ a: { b: 1 }, list: [1, "x"], flag: true }`
 * as `metadata[a][b]=1`, `metadata[list][]=1`, `metadata[list][]=x`, `metadata[flag]=true`: object keys nest in
 * brackets, array elements repeat `[]` in order, numbers and booleans become their `String()`. It cannot send
 * null (it throws), and an empty object or array sends no field at all, so neither can come back.
 *
 * Where the form cannot say what the SDK had, these rules decide:
 * - Types: a value that is exactly `true` or `false` is a boolean; one that is exactly how JavaScript prints a
 *   finite number (`String(Number(v)) === v`: `5`, `-1.5`, `1e+21`, not `05` or `1.0`) is a number; anything else
 *   is a string. So the string "5" comes back as the number 5: send metadata as a JSON text field to keep it a string.
 * - Arrays of objects: `[]` followed by a key starts a new element when the last element already holds that key
 *   (Rack's rule), so `[{ n: 1 }, { n: 2 }]` comes back whole, but `[{ a: 1 }, { b: 2 }]` comes back as `[{ a: 1, b: 2 }]`.
 * - Arrays of arrays (`[][]`) reach us flattened beyond repair, and are refused rather than guessed.
 * A field name that is not `metadata` followed by `[...]` groups, a key that is both a value and an object, or a
 * value given twice is refused, naming the field.
 */
export function metadataFromFormFields(form: FormData): JsonObject | undefined {
  let root: JsonObject | undefined;
  let fields = 0;
  for (const [name, value] of form.entries()) {
    if (!name.startsWith("metadata[")) continue;
    // Each field adds at least a byte to the JSON text, and a name is about as long as its JSON path:
    // past these bounds the metadata is over the limit, whatever its shape, so stop before building it.
    if (++fields > MAX_METADATA_BYTES || name.length > MAX_METADATA_BYTES) throw metadataTooLarge(`over ${MAX_METADATA_BYTES}`);
    if (typeof value !== "string") throw badRequest(`${quote(name)} must be a text field`);
    const path = fieldPath(name);
    root ??= Object.create(null) as JsonObject;
    insert(root, path, typedValue(value), name);
  }
  // Null-prototype objects keep keys like `__proto__` as plain data; JSON text gives ordinary objects back.
  return root && (JSON.parse(JSON.stringify(root)) as JsonObject);
}

/** The keys of a `metadata[a][][b]` field name: `["a", "", "b"]`, where "" stands for an array's `[]`. */
function fieldPath(name: string): string[] {
  const groups = FIELD.exec(name)?.[1];
  if (!groups) throw badRequest(`${quote(name)} is not a metadata field name this API can read (metadata[key][key]…); send metadata as JSON`);
  const path = groups.slice(1, -1).split("][");
  if (path[0] === "") throw badRequest(`${quote(name)}: metadata must be an object, not an array`);
  if (path.some((key, i) => key === "" && path[i + 1] === "")) {
    throw badRequest(`${quote(name)}: arrays of arrays cannot be sent as form fields (they arrive flattened); send metadata as JSON`);
  }
  return path;
}

function typedValue(text: string): Json {
  if (text === "true") return true;
  if (text === "false") return false;
  const n = Number(text);
  if (Number.isFinite(n) && String(n) === text) return n;
  return text;
}

const isObject = (value: Json | undefined): value is JsonObject => typeof value === "object" && !Array.isArray(value);

function insert(root: JsonObject, path: string[], value: Json, name: string): void {
  const conflict = () => badRequest(`${quote(name)} conflicts with another metadata field (a key given twice, or both a value and a group)`);
  let node: JsonObject | Json[] = root;
  for (let i = 0; i < path.length; i++) {
    const key = path[i];
    const last = i === path.length - 1;
    if (Array.isArray(node)) {
      // `[]`: an element. A scalar is appended; a group goes into the last element unless that one already has it.
      if (last) {
        node.push(value);
        return;
      }
      const rest = path.slice(i + 1);
      const tail: Json | undefined = node.at(-1);
      if (isObject(tail) && !occupies(tail, rest)) {
        node = tail;
      } else {
        const element = Object.create(null) as JsonObject;
        node.push(element);
        node = element;
      }
      continue;
    }
    const existing: Json | undefined = Object.hasOwn(node, key) ? node[key] : undefined;
    if (last) {
      if (existing !== undefined) throw conflict();
      node[key] = value;
      return;
    }
    const wantArray = path[i + 1] === "";
    if (existing === undefined) {
      const child: JsonObject | Json[] = wantArray ? [] : (Object.create(null) as JsonObject);
      node[key] = child;
      node = child;
    } else if (wantArray ? Array.isArray(existing) : isObject(existing)) {
      node = existing as JsonObject | Json[];
    } else {
      throw conflict();
    }
  }
}

/** Whether an array element already holds the keys a field is about to set (then the field starts a new element). */
function occupies(element: JsonObject, rest: string[]): boolean {
  // Past another `[]` the field appends to a list inside the element, so it belongs to the same element (Rack's rule).
  if (rest.includes("")) return false;
  let node: Json = element;
  for (const key of rest) {
    if (!isObject(node) || !Object.hasOwn(node, key)) return !isObject(node);
    node = node[key];
  }
  return true;
}

/**
 * Refuses metadata over Cloudflare's size limit. Nesting is bounded first, without recursion, because measuring
 * means serialising, and serialising a deeply nested value would exhaust the stack; no value nested deeper than
 * half the byte limit can fit in it anyway (each level costs at least two bytes of brackets).
 */
export function checkMetadataSize(value: object): void {
  if (nestedDeeperThan(value, MAX_METADATA_BYTES / 2)) throw metadataTooLarge(`over ${MAX_METADATA_BYTES}`);
  const size = new TextEncoder().encode(JSON.stringify(value)).length;
  if (size > MAX_METADATA_BYTES) throw metadataTooLarge(String(size));
}

function nestedDeeperThan(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (!node || typeof node !== "object") continue;
    if (depth > limit) return true;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return false;
}

const metadataTooLarge = (size: string) => badRequest(`metadata is ${size} bytes; the limit is ${MAX_METADATA_BYTES} bytes`);
