/** What the animation modules share: an animation's header facts and one composed frame. */

/** An animation as its header tells it, read without decoding a frame. */
export interface AnimationHeader {
  /** The logical screen (GIF) or canvas (WebP VP8X): every composed frame has this size. */
  width: number;
  height: number;
  frameCount: number;
  /** Times to play; 0 = forever. */
  loop: number;
}

/** One frame as it is shown: the whole canvas, RGBA, after disposal and blending. */
export interface ComposedFrame {
  /** `width × height × 4`; owned by the compositor and overwritten by the next frame. */
  rgba: Uint8Array;
  width: number;
  height: number;
  /** How long the frame shows, in milliseconds. */
  delayMs: number;
  index: number;
}
