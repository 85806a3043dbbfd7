/** An 8-bit interleaved pixel buffer: RGB (3 channels) or RGBA (4 channels, straight alpha), rows packed. */
export interface Raster {
  data: Uint8Array;
  width: number;
  height: number;
  channels: 3 | 4;
}

/** A rectangle in pixel coordinates. */
export interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** EXIF orientation 1–8 (1 = as stored). */
export type Orientation = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8;
