// Ambient declarations for imports TypeScript cannot type on its own.

/** wrangler bundles `.wasm` imports as compiled modules. */
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}
