/** Colours as they arrive in options: `#rgb`, `#rrggbb`, `#rrggbbaa`, `rgb(r,g,b)` or `rgba(r,g,b,a)` (a from 0 to 1). */
import { badRequest, quote } from "./errors.ts";

export type Rgba = [number, number, number, number];

/** Parses a colour for option `name`; the error names the option and the forms it takes. */
export function parseColor(value: string, name: string): Rgba {
  const hex = /^#?([0-9a-f]{3}|[0-9a-f]{6}|[0-9a-f]{8})$/i.exec(value)?.[1];
  if (hex) {
    const full = hex.length === 3 ? [...hex].map((c) => c + c).join("") : hex;
    const rgba = [0, 2, 4, 6].map((i) => (i < full.length ? parseInt(full.slice(i, i + 2), 16) : 255));
    return rgba as Rgba;
  }
  const fn = /^rgba?\((\d{1,3}),(\d{1,3}),(\d{1,3})(?:,(0|1|0?\.\d+|1\.0+))?\)$/.exec(value.replace(/\s+/g, ""));
  if (fn && fn.slice(1, 4).every((c) => Number(c) <= 255)) {
    const alpha = fn[4] === undefined ? 255 : Math.round(Number(fn[4]) * 255);
    return [Number(fn[1]), Number(fn[2]), Number(fn[3]), alpha];
  }
  throw badRequest(`${name} must be a color like #ffffff, rgb(255,255,255) or rgba(255,255,255,0.5), got ${quote(value)}`);
}
