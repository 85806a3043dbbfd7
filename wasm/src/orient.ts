import type { Orientation, Raster, Rect } from "./raster.ts";

/** True when orientation `o` swaps width and height (the transposing orientations 5–8). */
export function swapsAxes(o: Orientation): boolean {
  return o >= 5;
}

/**
 * Maps a rectangle given in oriented coordinates (what the viewer sees) to stored coordinates, for a stored
 * image of `storedW`×`storedH`. Works on pixel edges, so a rect covering the oriented image covers the stored one.
 */
export function orientedRectToStored(rect: Rect, o: Orientation, storedW: number, storedH: number): Rect {
  const a = orientedPointToStored(rect.left, rect.top, o, storedW, storedH);
  const b = orientedPointToStored(rect.left + rect.width, rect.top + rect.height, o, storedW, storedH);
  const left = Math.min(a[0], b[0]);
  const top = Math.min(a[1], b[1]);
  return { left, top, width: Math.max(a[0], b[0]) - left, height: Math.max(a[1], b[1]) - top };
}

/** The inverse of orientedRectToStored: a stored rect in the oriented (displayed) coordinates of that image. */
export function storedRectToOriented(rect: Rect, o: Orientation, storedW: number, storedH: number): Rect {
  // Orientation 6 and 8 undo each other; every other orientation undoes itself.
  const inverse: Orientation = o === 6 ? 8 : o === 8 ? 6 : o;
  const [w, h] = swapsAxes(o) ? [storedH, storedW] : [storedW, storedH];
  return orientedRectToStored(rect, inverse, w, h);
}

function orientedPointToStored(x: number, y: number, o: Orientation, w: number, h: number): [number, number] {
  switch (o) {
    case 1: return [x, y];
    case 2: return [w - x, y];
    case 3: return [w - x, h - y];
    case 4: return [x, h - y];
    case 5: return [y, x];
    case 6: return [y, h - x];
    case 7: return [w - y, h - x];
    case 8: return [w - y, x];
  }
}

/**
 * Applies EXIF orientation `o` to a stored raster, returning what the viewer should see. Orientation 1
 * returns `src` itself. Meant for small (already resized) rasters: it is a plain gather, one pass.
 */
export function orient(src: Raster, o: Orientation): Raster {
  if (o === 1) return src;
  const { width: sw, height: sh, channels: ch } = src;
  // Stored pixel index of displayed (X, Y) is base + X·dx + Y·dy.
  const last = sh - 1;
  const [base, dx, dy] = ({
    2: [sw - 1, -1, sw],
    3: [last * sw + sw - 1, -1, -sw],
    4: [last * sw, 1, -sw],
    5: [0, sw, 1],
    6: [last * sw, -sw, 1],
    7: [last * sw + sw - 1, -sw, -1],
    8: [sw - 1, sw, -1],
  } as const)[o];
  const width = swapsAxes(o) ? sh : sw;
  const height = swapsAxes(o) ? sw : sh;
  const s = src.data;
  const out = new Uint8Array(width * height * ch);
  let d = 0;
  for (let y = 0; y < height; y++) {
    let p = (base + y * dy) * ch;
    const step = dx * ch;
    if (ch === 4) {
      for (let x = 0; x < width; x++, p += step) {
        out[d++] = s[p]; out[d++] = s[p + 1]; out[d++] = s[p + 2]; out[d++] = s[p + 3];
      }
    } else {
      for (let x = 0; x < width; x++, p += step) {
        out[d++] = s[p]; out[d++] = s[p + 1]; out[d++] = s[p + 2];
      }
    }
  }
  return { data: out, width, height, channels: ch };
}
