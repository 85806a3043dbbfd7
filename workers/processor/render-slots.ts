import { ApiError, ErrorCode } from "../shared/errors.ts";

/**
 * Renders one isolate runs at once. Each render may plan up to MEMORY_BUDGET_MB (96 MiB) of a 128 MB isolate,
 * so two at a time could exhaust it; one at a time also leaves the other cores to delivery. The isolate's memory
 * is module-level by nature, so this gate is too.
 */
const SLOTS = 1;
/** Renders that may wait for a slot; past this the request is refused at once with 503 and Retry-After. */
const MAX_WAITING = 16;
const MAX_WAIT_MS = 20_000;

let running = 0;
const waiting: (() => void)[] = [];

/** Runs `work` when a render slot is free, waiting in arrival order. */
export async function withRenderSlot<T>(work: () => Promise<T>): Promise<T> {
  if (running >= SLOTS) {
    if (waiting.length >= MAX_WAITING) throw busy();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        waiting.splice(waiting.indexOf(wake), 1);
        reject(busy());
      }, MAX_WAIT_MS);
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      waiting.push(wake);
    });
  } else {
    running++;
  }
  try {
    return await work();
  } finally {
    // Hand the slot straight to the next waiter, or free it.
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}

function busy(): ApiError {
  return new ApiError(503, ErrorCode.unavailable, "rendering capacity is busy; try again shortly");
}

/** Seconds a client refused by a full render queue should wait. */
export const RENDER_RETRY_AFTER_SECONDS = 2;
