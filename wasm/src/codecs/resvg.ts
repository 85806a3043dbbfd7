/**
 * A fresh instance of @resvg/resvg-wasm 2.6.2 per render, driven through our own wasm-bindgen glue.
 *
 * Why not the package's `initWasm` + `Resvg`: its glue keeps one instance for the life of the isolate and
 * refuses a second, and wasm memory only grows, so one 4000×4000 raster (64 MB of pixmap) would stay pinned
 * under every later job's budget. As for the other codecs (instances.ts), an instance per render lets the heap
 * go with it. The imports are matched by their full names (the package is pinned: a new version with other
 * names fails loudly here, not silently at render time).
 *
 * Nothing here can fetch: resvg-wasm resolves no external resource by itself (an `<image>` it cannot decode
 * from a data URI is listed by `imagesToResolve` and left out), we never call `resolveImage`, and it is
 * given no font, so text renders nothing.
 */
import { bindgenObjects } from "./bindgen.ts";
import type { CodecImage, CodecInstance } from "./instances.ts";

export interface SvgRasteriser {
  /** Renders `svg` scaled to `width` px wide (resvg's fitTo), as RGBA; its height follows the SVG's aspect ratio. */
  render(svg: Uint8Array, width: number): CodecImage;
}

export function instantiateResvg(module: WebAssembly.Module): CodecInstance<SvgRasteriser> {
  const { hold, get, take } = bindgenObjects();
  let exports: Record<string, any>;
  const memory = () => exports.memory as WebAssembly.Memory;
  const text = (ptr: number, len: number) => new TextDecoder().decode(new Uint8Array(memory().buffer, ptr >>> 0, len >>> 0));
  const passText = (value: string): [number, number] => {
    const encoded = new TextEncoder().encode(value);
    const ptr = exports.__wbindgen_malloc(encoded.length, 1) >>> 0;
    new Uint8Array(memory().buffer).set(encoded, ptr);
    return [ptr, encoded.length];
  };
  const words = (ptr: number) => new Int32Array(memory().buffer, ptr, 4);

  const shims: Record<string, (...args: number[]) => unknown> = {
    __wbg_new_28c511d9baebfa89: (ptr, len) => hold(new Error(text(ptr, len))),
    __wbindgen_memory: () => hold(memory()),
    __wbg_buffer_12d079cc21e14bdb: (h) => hold(get(h).buffer),
    __wbg_newwithbyteoffsetandlength_aa4a17c33a06e5cb: (h, offset, length) => hold(new Uint8Array(get(h), offset >>> 0, length >>> 0)),
    __wbindgen_object_drop_ref: (h) => void take(h),
    __wbg_new_63b92bc8671ed464: (h) => hold(new Uint8Array(get(h))),
    __wbg_values_839f3396d5aac002: (h) => hold(get(h).values()),
    __wbg_next_196c84450b364254: (h) => {
      try {
        return hold(get(h).next());
      } catch (e) {
        exports.__wbindgen_exn_store(hold(e));
      }
    },
    __wbg_done_298b57d23c0fc80c: (h) => get(h).done,
    __wbg_value_d93c65011f51a456: (h) => hold(get(h).value),
    __wbg_instanceof_Uint8Array_2b3bbecd033d19f6: (h) => get(h) instanceof Uint8Array,
    __wbindgen_string_get: (retptr, h) => {
      const value = get(h);
      const [ptr, len] = typeof value === "string" ? passText(value) : [0, 0];
      const w = words(retptr);
      w[0] = ptr;
      w[1] = len;
    },
    __wbg_new_16b304a2cfa7ff4a: () => hold([]),
    __wbindgen_string_new: (ptr, len) => hold(text(ptr, len)),
    __wbg_push_a5b05aedc7234f9f: (h, v) => get(h).push(get(v)),
    __wbg_length_c20a40f15020d68a: (h) => get(h).length,
    __wbg_set_a47bac70306a19a7: (h, v, offset) => get(h).set(get(v), offset >>> 0),
    __wbindgen_throw: (ptr, len) => {
      throw new Error(text(ptr, len));
    },
  };
  const imports: Record<string, Record<string, unknown>> = {};
  for (const { module: ns, name } of WebAssembly.Module.imports(module)) {
    if (!Object.hasOwn(shims, name)) throw new Error(`@resvg/resvg-wasm needs an import we do not provide: ${ns}.${name}`);
    (imports[ns] ??= {})[name] = shims[name];
  }
  const instance = new WebAssembly.Instance(module, imports as WebAssembly.Imports);
  exports = instance.exports as Record<string, any>;

  /** Calls an export that returns (value, error handle, is-error) through a return area. */
  const call = (f: (retptr: number, ...args: number[]) => void, ...args: number[]): number => {
    const retptr = exports.__wbindgen_add_to_stack_pointer(-16);
    try {
      f(retptr, ...args);
      const [value, error, failed] = words(retptr);
      if (failed) throw take(error);
      return value >>> 0;
    } finally {
      exports.__wbindgen_add_to_stack_pointer(16);
    }
  };

  const api: SvgRasteriser = {
    render(svg, width) {
      const [optionsPtr, optionsLen] = passText(JSON.stringify({ fitTo: { mode: "width", value: width } }));
      const tree = call(exports.resvg_new, hold(svg), optionsPtr, optionsLen, 0);
      try {
        const image = call(exports.resvg_render, tree);
        try {
          const data = take(exports.renderedimage_pixels(image)) as Uint8Array;
          return { data, width: exports.renderedimage_width(image) >>> 0, height: exports.renderedimage_height(image) >>> 0 };
        } finally {
          exports.__wbg_renderedimage_free(image);
        }
      } finally {
        exports.__wbg_resvg_free(tree);
      }
    },
  };
  return { api, memory: memory(), messages: [] };
}
