/**
 * An Images-binding-style API for the user's other Workers: bind the processor's `ImagesService` entrypoint with a
 * service binding and call it as Cloudflare's Images binding is called,
 *
 *   const result = await env.IMAGES.input(stream).transform({ width: 320, rotate: 90 }).draw(logo, { bottom: 8, right: 8 })
 *     .output({ format: "image/webp", quality: 80 });
 *   return result.response();          // over RPC: `await result.response()`
 *
 * and `env.IMAGES.info(stream)` → `{ format, fileSize, width, height }`. The chain is RPC promise pipelining over
 * RpcTargets, so it reads the same; every method of the result is an RPC call, so it returns a promise.
 *
 * Same option names as delivery URLs and the same engine: each `transform()` is validated by the flexible-variant
 * parser (workers/shared/transform.ts), so names, ranges and error messages are the URL's own, and every option a
 * URL takes works here; the same limits (MAX_UPLOAD_BYTES, MAX_SIDE, MAX_PIXELS, the memory budget) apply. Unlike
 * Cloudflare's local mode, everything runs locally too.
 *
 * Steps run in call order, as Cloudflare documents: each transform and each draw sees the result of the steps
 * before it. Between steps the image is kept as a lossless PNG, so only the output is encoded lossily.
 */
import { RpcTarget, WorkerEntrypoint } from "cloudflare:workers";
import { decodeStill, type Placement } from "../../wasm/src/compose.ts";
import { renderTargets, type OutputFormat, type RenderTarget } from "../../wasm/src/engine.ts";
import { CodecError } from "../../wasm/src/errors.ts";
import { CONTENT_TYPES, type ImageHeader } from "../../wasm/src/probe.ts";
import { engineModules } from "../../wasm/src/modules.worker.ts";
import { parseConfig, type Config } from "../shared/config.ts";
import { renderTargetsOf } from "../shared/eager-set.ts";
import { ApiError, fromCodecError } from "../shared/errors.ts";
import { parseFlexibleOptions, type Transform } from "../shared/transform.ts";
import { checkAnimationLimits, checkImageLimits, probeUpload } from "../shared/upload-checks.ts";
import type { ProcessorEnv } from "./env.ts";
import { withRenderSlot } from "./render-slots.ts";
import { concatBytes } from "../../wasm/src/bytes.ts";

/** Cloudflare's Images error codes: 9412 the input is not an image, 9413 a limit, 9422 bad options. */
const NOT_AN_IMAGE = 9412;
const OVER_A_LIMIT = 9413;
const BAD_OPTIONS = 9422;

/** Thrown to the calling Worker (over RPC it arrives as an Error with this message). */
function imagesError(code: number, message: string): Error {
  return new Error(`IMAGES_ERROR ${code}: ${message}`);
}

function asImagesError(error: unknown): Error {
  const api = error instanceof CodecError ? fromCodecError(error) : error;
  if (api instanceof ApiError) {
    const code = api.status === 415 || api.status === 422 ? NOT_AN_IMAGE : api.status === 413 ? OVER_A_LIMIT : BAD_OPTIONS;
    return imagesError(code, api.message);
  }
  return error instanceof Error ? error : new Error(String(error));
}

/** The output formats by media type, as `output({ format })` names them. */
const OUTPUT_TYPES: Record<string, OutputFormat> = { "image/avif": "avif", "image/webp": "webp", "image/jpeg": "jpeg", "image/png": "png" };

export interface ImageOutputOptions {
  format: string;
  quality?: number;
  background?: string;
  anim?: boolean;
}

export interface ImageDrawOptions extends Omit<Placement, "repeat"> {
  repeat?: boolean | string;
  composite?: string;
}

type BindingTransform = Record<string, unknown>;

/**
 * A transform object as a delivery URL would spell it: `{ width: 320, gravity: { x: 0.5, y: 0.2 }, trim: { top: 4 } }`
 * → `width=320,gravity=0.5x0.2,trim.top=4`. Values are percent-encoded, so the parser (which splits on commas and
 * decodes each value once) sees exactly what was given.
 */
export function transformSpec(options: BindingTransform, place: "transform" | "output" = "transform"): string {
  if (!options || typeof options !== "object" || Array.isArray(options)) throw imagesError(BAD_OPTIONS, "transform() takes an object of options");
  const parts: string[] = [];
  const add = (name: string, value: unknown) => {
    if (value === undefined) return;
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      if (name === "gravity") {
        const { x, y, mode } = value as { x?: unknown; y?: unknown; mode?: unknown };
        if (mode !== undefined && mode !== "remainder") throw imagesError(BAD_OPTIONS, `gravity.mode ${JSON.stringify(mode)} is not supported; use "remainder" (the default)`);
        parts.push(`gravity=${encodeURIComponent(`${x ?? 0.5}x${y ?? 0.5}`)}`);
        return;
      }
      for (const [key, inner] of Object.entries(value)) add(`${name}.${key}`, inner);
      return;
    }
    if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
      throw imagesError(BAD_OPTIONS, `${name} must be a string, a number or a boolean, got ${JSON.stringify(value)}`);
    }
    parts.push(`${encodeURIComponent(name)}=${encodeURIComponent(String(value))}`);
  };
  for (const [name, value] of Object.entries(options)) {
    if (place === "transform" && (name === "format" || name === "quality")) throw imagesError(BAD_OPTIONS, `${name} belongs in output(), not transform()`);
    add(name, value);
  }
  return parts.join(",");
}

function parseTransform(options: BindingTransform, place: "transform" | "output" = "transform"): Transform {
  try {
    return parseFlexibleOptions(transformSpec(options, place));
  } catch (error) {
    throw asImagesError(error);
  }
}

/** One image in the pipeline: its bytes and what its header says. */
interface Still {
  bytes: Uint8Array;
  header: ImageHeader;
}

type Step = { transform: Transform } | { draw: Promise<Uint8Array>; placement: Placement };

export class ImagesService extends WorkerEntrypoint<ProcessorEnv> {
  private readonly config: Config = parseConfig(this.env, false);

  /** The image's format (media type), size in bytes, and dimensions as stored. */
  async info(stream: ReadableStream<Uint8Array>, options?: { encoding?: "base64" }): Promise<{ format: string; fileSize: number; width: number; height: number }> {
    const still = await readInput(stream, options, this.config);
    return { format: CONTENT_TYPES[still.header.format], fileSize: still.bytes.length, width: still.header.width, height: still.header.height };
  }

  input(stream: ReadableStream<Uint8Array>, options?: { encoding?: "base64" }): ImageTransformer {
    return new ImageTransformer(this.config, readInput(stream, options, this.config));
  }
}

export class ImageTransformer extends RpcTarget {
  private readonly steps: Step[] = [];
  private readonly config: Config;
  private readonly input: Promise<Still>;

  constructor(config: Config, input: Promise<Still>) {
    super();
    this.config = config;
    this.input = input;
    // Read at once (a stream handed over RPC is read while its caller waits); a failure surfaces at output().
    input.catch(() => {});
  }

  transform(options: BindingTransform): ImageTransformer {
    // A bad option is reported by output(), as Cloudflare's binding does: a call in the middle of a pipelined
    // chain that throws would reject a promise the caller never awaits.
    this.record(() => this.steps.push({ transform: parseTransform(options) }));
    return this;
  }

  /** The first error of the chain's calls, thrown by output(). */
  private failure: Error | undefined;

  private record(call: () => void): void {
    if (this.failure) return;
    try {
      call();
    } catch (error) {
      this.failure = asImagesError(error);
    }
  }

  /** Draws `image` (a stream, or another transformer's result) over the image as it is after the steps so far. */
  draw(image: ReadableStream<Uint8Array> | ImageTransformer, options: ImageDrawOptions = {}): ImageTransformer {
    this.record(() => this.addDraw(image, options));
    return this;
  }

  private addDraw(image: ReadableStream<Uint8Array> | ImageTransformer, options: ImageDrawOptions): void {
    const placement = parsePlacement(options);
    const overlay =
      image instanceof ReadableStream
        ? readInput(image, undefined, this.config).then((still) => renderStill(still, undefined, "png", 100, this.config)).then((s) => s.bytes)
        : // Another transformer (over RPC, a stub of one): its result as a lossless PNG.
          Promise.resolve(image.output({ format: "image/png" })).then(async (result) => new Uint8Array(await new Response(await result.image()).arrayBuffer()));
    overlay.catch(() => {});
    this.steps.push({ draw: overlay, placement });
  }

  async output(options: ImageOutputOptions): Promise<ImageTransformationResult> {
    if (this.failure) throw this.failure;
    const format = OUTPUT_TYPES[options?.format];
    if (!format) {
      throw imagesError(BAD_OPTIONS, `output format must be one of ${Object.keys(OUTPUT_TYPES).join(", ")}, got ${JSON.stringify(options?.format)}`);
    }
    const extra = parseTransform({
      ...(options.quality !== undefined ? { quality: options.quality } : {}),
      ...(options.background !== undefined ? { background: options.background } : {}),
      ...(options.anim !== undefined ? { anim: options.anim } : {}),
    }, "output");
    try {
      let still = await this.input;
      const last = this.steps.length - 1;
      for (const [i, step] of this.steps.entries()) {
        const final = i === last;
        if ("transform" in step) {
          const transform = final ? { ...step.transform, quality: extra.quality, anim: extra.anim, background: options.background !== undefined ? extra.background : step.transform.background } : step.transform;
          still = await renderStill(still, transform, final ? format : "png", final ? extra.quality : 100, this.config);
        } else {
          still = await drawStep(still, await step.draw, step.placement, this.config);
        }
      }
      // No steps, or a draw last (its result is a PNG): one more render encodes the output (and flattens alpha
      // onto the background for JPEG).
      if (this.steps.length === 0 || (still.header.format as string) !== format) still = await renderStill(still, extra, format, extra.quality, this.config);
      return new ImageTransformationResult(still.bytes, CONTENT_TYPES[format]);
    } catch (error) {
      throw asImagesError(error);
    }
  }
}

export class ImageTransformationResult extends RpcTarget {
  private readonly bytes: Uint8Array;
  private readonly type: string;

  constructor(bytes: Uint8Array, type: string) {
    super();
    this.bytes = bytes;
    this.type = type;
  }

  response(options: { headers?: HeadersInit } = {}): Response {
    const headers = new Headers(options.headers);
    headers.set("content-type", this.type);
    return new Response(this.bytes, { headers });
  }

  contentType(): string {
    return this.type;
  }

  image(options: { encoding?: "base64" } = {}): ReadableStream<Uint8Array> {
    const body = options.encoding === "base64" ? new TextEncoder().encode(toBase64(this.bytes)) : this.bytes;
    return new Response(body).body!;
  }
}

function parsePlacement(options: ImageDrawOptions): Placement {
  if (options === null || typeof options !== "object") throw imagesError(BAD_OPTIONS, "draw() options must be an object");
  if (options.composite !== undefined && options.composite !== "over") {
    throw imagesError(BAD_OPTIONS, `composite ${JSON.stringify(options.composite)} is not supported; "over" (the default) is`);
  }
  for (const side of ["top", "left", "bottom", "right"] as const) {
    const v = options[side];
    if (v !== undefined && !(Number.isInteger(v) && Math.abs(v) <= 12_000)) throw imagesError(BAD_OPTIONS, `${side} must be an integer number of pixels, got ${JSON.stringify(v)}`);
  }
  if (options.top !== undefined && options.bottom !== undefined) throw imagesError(BAD_OPTIONS, "give top or bottom, not both");
  if (options.left !== undefined && options.right !== undefined) throw imagesError(BAD_OPTIONS, "give left or right, not both");
  if (options.opacity !== undefined && !(typeof options.opacity === "number" && options.opacity >= 0 && options.opacity <= 1)) {
    throw imagesError(BAD_OPTIONS, `opacity must be a number from 0 to 1, got ${JSON.stringify(options.opacity)}`);
  }
  const repeat = options.repeat;
  if (repeat !== undefined && repeat !== true && repeat !== false && repeat !== "x" && repeat !== "y") {
    throw imagesError(BAD_OPTIONS, `repeat must be true, false, "x" or "y", got ${JSON.stringify(repeat)}`);
  }
  return { top: options.top, left: options.left, bottom: options.bottom, right: options.right, opacity: options.opacity, repeat };
}

/** Reads an input stream within MAX_UPLOAD_BYTES and checks its header as an upload's is checked. */
async function readInput(stream: ReadableStream<Uint8Array>, options: { encoding?: "base64" } | undefined, config: Config): Promise<Still> {
  if (!(stream instanceof ReadableStream)) throw imagesError(BAD_OPTIONS, "the image must be a ReadableStream of its bytes");
  const limit = config.limits.maxUploadBytes;
  const maxRead = options?.encoding === "base64" ? Math.ceil((limit * 4) / 3) + 4 : limit;
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    length += value.length;
    if (length > maxRead) {
      await reader.cancel().catch(() => {});
      throw imagesError(OVER_A_LIMIT, `the image is over ${limit} bytes (MAX_UPLOAD_BYTES)`);
    }
    chunks.push(value);
  }
  let bytes = concatBytes(chunks, length);
  if (options?.encoding === "base64") bytes = fromBase64(new TextDecoder().decode(bytes));
  if (bytes.length === 0) throw imagesError(NOT_AN_IMAGE, "the image is empty");
  try {
    const header = probeUpload(bytes);
    checkImageLimits(header, config.limits);
    checkAnimationLimits(bytes, header, config.limits);
    return { bytes, header };
  } catch (error) {
    throw asImagesError(error);
  }
}

/** One render of `still`, with `transform` (the identity when undefined) and any layers drawn over it, to one format. */
async function renderStill(
  still: Still,
  transform: Partial<Transform> | undefined,
  format: OutputFormat,
  quality: number,
  config: Config,
  /** Decodes the layers to draw; called inside the render slot, so their rasters count against it as the render's. */
  layers?: () => Promise<NonNullable<RenderTarget["draw"]>>,
): Promise<Still> {
  const full: Transform = {
    ...parseFlexibleOptions(""),
    metadata: "keep",
    ...transform,
    quality,
  };
  const source = { format: still.header.format, width: still.header.width, height: still.header.height, orientation: still.header.orientation, hasAlpha: still.header.hasAlpha };
  const [target] = renderTargetsOf(source, [{ transform: full, format, fingerprint: "", variant: null }]);
  const [output] = await withRenderSlot(async () => {
    if (layers) target.draw = await layers();
    return renderTargets(still.bytes, source, [target], { modules: engineModules, memoryBudgetBytes: config.memoryBudgetBytes, maxPixels: config.limits.maxPixels });
  });
  return { bytes: output.bytes, header: probeUpload(output.bytes) };
}

/** Draws an overlay (a lossless PNG from renderStill) over `still` with the engine's draw step; the result is a lossless PNG. */
async function drawStep(still: Still, overlayBytes: Uint8Array, placement: Placement, config: Config): Promise<Still> {
  return renderStill(still, undefined, "png", 100, config, async () => [{ raster: await decodeStill(overlayBytes, engineModules, config.limits.maxPixels), placement }]);
}

function toBase64(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

function fromBase64(text: string): Uint8Array {
  let binary: string;
  try {
    binary = atob(text.replace(/\s+/g, ""));
  } catch {
    throw imagesError(NOT_AN_IMAGE, "the input is not valid base64 (encoding: base64)");
  }
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}
