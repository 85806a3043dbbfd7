/**
 * The naive jSquash peer: what a Worker gets by following jSquash's README — decode at full size, resize with
 * @jsquash/resize's defaults (Lanczos3 in linear light, premultiplied), encode — with the packages' own
 * process-wide codec singletons. Its wasm heaps are measured by recording every instance it creates.
 */
import decodeJpeg, { init as initJpegDec } from "@jsquash/jpeg/decode.js";
import encodeJpeg, { init as initJpegEnc } from "@jsquash/jpeg/encode.js";
import decodePng, { init as initPng } from "@jsquash/png/decode.js";
import encodeWebp, { init as initWebpEnc } from "@jsquash/webp/encode.js";
import resize, { initResize } from "@jsquash/resize";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { EngineModules } from "../wasm/src/modules.ts";

export interface NaiveTarget {
  width: number;
  height: number;
  format: "webp" | "jpeg";
  quality: number;
}

const instances: WebAssembly.Instance[] = [];
let recording = false;

/** Records instances created while `recording` (the naive peer's), to read their heap sizes. */
function recordInstances(): void {
  const Instance = WebAssembly.Instance;
  const instantiate = WebAssembly.instantiate;
  const Recorded = function (this: unknown, module: WebAssembly.Module, imports?: WebAssembly.Imports) {
    const instance = new Instance(module, imports);
    if (recording) instances.push(instance);
    return instance;
  } as unknown as typeof WebAssembly.Instance;
  Recorded.prototype = Instance.prototype;
  (WebAssembly as { Instance: unknown }).Instance = Recorded;
  (WebAssembly as { instantiate: unknown }).instantiate = async (...args: unknown[]) => {
    const result = await (instantiate as (...a: unknown[]) => Promise<unknown>)(...args);
    const instance = result instanceof Instance ? result : (result as { instance: WebAssembly.Instance }).instance;
    if (recording) instances.push(instance);
    return result;
  };
}

/** Sum of the linear memories of every codec instance the naive peer holds (they live for the process). */
export function naiveHeapBytes(): number {
  let sum = 0;
  for (const i of instances) {
    for (const e of Object.values(i.exports)) if (e instanceof WebAssembly.Memory) sum += e.buffer.byteLength;
  }
  return sum;
}

export async function initNaive(modules: EngineModules): Promise<void> {
  recordInstances();
  recording = true;
  const resizeWasm = new URL("../node_modules/@jsquash/resize/lib/resize/pkg/squoosh_resize_bg.wasm", import.meta.url);
  await initJpegDec(modules.mozjpegDec);
  await initJpegEnc(modules.mozjpegEnc);
  await initWebpEnc(modules.webpEnc);
  await initPng(modules.pngCodec);
  await initResize(await WebAssembly.compile(readFileSync(fileURLToPath(resizeWasm))));
  recording = false;
}

/** Decode once at full size, resize each target from the full image, encode. Returns output bytes. */
export async function renderNaive(input: Uint8Array, format: "jpeg" | "png", targets: NaiveTarget[]): Promise<{ outputs: Uint8Array[]; jsPeakBytes: number }> {
  recording = true; // only the peer's instances (our engine creates its own, short-lived ones)
  try {
    return await renderNaiveRecorded(input, format, targets);
  } finally {
    recording = false;
  }
}

async function renderNaiveRecorded(input: Uint8Array, format: "jpeg" | "png", targets: NaiveTarget[]): Promise<{ outputs: Uint8Array[]; jsPeakBytes: number }> {
  const image = format === "jpeg" ? await decodeJpeg(input.buffer as ArrayBuffer) : await decodePng(input.buffer as ArrayBuffer);
  const outputs: Uint8Array[] = [];
  let jsPeakBytes = 0;
  for (const t of targets) {
    const small = await resize(image, { width: t.width, height: t.height });
    jsPeakBytes = Math.max(jsPeakBytes, image.data.byteLength + small.data.byteLength);
    const out = t.format === "webp" ? await encodeWebp(small, { quality: t.quality }) : await encodeJpeg(small, { quality: t.quality });
    outputs.push(new Uint8Array(out));
  }
  return { outputs, jsPeakBytes };
}
