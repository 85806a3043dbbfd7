import { ApiError, ErrorCode } from "../shared/errors.ts";
import { sleep } from "../shared/timers.ts";

/**
 * Renders one isolate runs at once. Each render may plan up to MEMORY_BUDGET_MB (96 MiB) of a 128 MB isolate,
 * so two at a time could exhaust it; one at a time also leaves the other cores to delivery. The isolate's memory
 * is module-level by nature, so this gate is too.
 *
 * Waiters poll on a timer instead of awaiting a promise another request resolves: the runtime cancels a request
 * that waits on nothing but another request's work as hung. A holder that never released (its request was
 * cancelled mid-render) is dropped after MAX_HOLD_MS, so a lost release cannot close the gate for good.
 */
const SLOTS = 1;
/**
 * Renders that may wait for a slot; past this the request is refused at once with 503 and Retry-After. Waiting is
 * cheap (the original is read only once the slot is held), so the real bound is MAX_WAIT_MS.
 */
const MAX_WAITING = 64;
const MAX_WAIT_MS = 20_000;
const MAX_HOLD_MS = 120_000;
const POLL_MS = 5;

const holders = new Map<number, number>();
const queue: number[] = [];
let tickets = 0;

/** Runs `work` when a render slot is free, in arrival order. */
export async function withRenderSlot<T>(work: () => Promise<T>): Promise<T> {
  const ticket = ++tickets;
  if (queue.length >= MAX_WAITING) throw busy();
  queue.push(ticket);
  const deadline = Date.now() + MAX_WAIT_MS;
  try {
    while (!(queue[0] === ticket && freeSlots() > 0)) {
      if (Date.now() > deadline) throw busy();
      await sleep(POLL_MS);
    }
  } finally {
    queue.splice(queue.indexOf(ticket), 1);
  }
  holders.set(ticket, Date.now());
  try {
    return await work();
  } finally {
    holders.delete(ticket);
  }
}

function freeSlots(): number {
  const now = Date.now();
  for (const [ticket, since] of holders) if (now - since > MAX_HOLD_MS) holders.delete(ticket);
  return SLOTS - holders.size;
}

function busy(): ApiError {
  return new ApiError(503, ErrorCode.unavailable, "rendering capacity is busy; try again shortly");
}

/** Seconds a client refused by a full render queue should wait. */
export const RENDER_RETRY_AFTER_SECONDS = 2;
