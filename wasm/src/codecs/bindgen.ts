/**
 * The JS objects a wasm-bindgen module refers to by handle, as its generated glue keeps them: `hold` gives a value
 * a handle, `take` hands it back and forgets it. Each instance has its own table, so it goes with the instance.
 */
export function bindgenObjects() {
  const objects = new Map<number, unknown>();
  let nextHandle = 1000; // wasm-bindgen reserves handles below 132 for constants
  const hold = (value: unknown) => {
    const handle = nextHandle++;
    objects.set(handle, value);
    return handle;
  };
  const take = (handle: number) => {
    const value = objects.get(handle);
    objects.delete(handle);
    return value;
  };
  return { objects, hold, take, get: (handle: number): any => objects.get(handle) };
}
