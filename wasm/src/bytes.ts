/** `parts` one after another in one new array (`length`, when the caller already counted it, saves the count). */
export function concatBytes(parts: readonly ArrayLike<number>[], length = parts.reduce((n, p) => n + p.length, 0)): Uint8Array {
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
