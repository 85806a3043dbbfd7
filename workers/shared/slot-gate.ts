import { sleep } from "./timers.ts";

/**
 * A per-isolate gate: at most `slots` pieces of work run at once, the rest wait in arrival order. The isolate's
 * memory is module-level by nature, so a gate that protects it is too (one per kind of work, made at module level).
 *
 * Waiters poll on a timer instead of awaiting a promise another request resolves: the runtime cancels a request
 * that waits on nothing but another request's work as hung. A holder that never released (its request was
 * cancelled mid-work) is dropped after `maxHoldMs`, so a lost release cannot close the gate for good. Past
 * `maxWaiting` waiters, or after `maxWaitMs` of waiting, `busy()` is thrown.
 */
export interface SlotGateOptions {
  slots: number;
  maxWaiting: number;
  maxWaitMs: number;
  maxHoldMs: number;
  busy: () => Error;
}

const POLL_MS = 5;
const MAX_POLL_MS = 100;

export function slotGate(options: SlotGateOptions) {
  const holders = new Map<number, number>();
  const queue: number[] = [];
  let tickets = 0;
  const freeSlots = (slots: number) => {
    const now = Date.now();
    for (const [ticket, since] of holders) if (now - since > options.maxHoldMs) holders.delete(ticket);
    return slots - holders.size;
  };
  /** Runs `work` when a slot is free; `slots` overrides the gate's own count (a configured one). */
  return async function withSlot<T>(work: () => Promise<T>, slots = options.slots): Promise<T> {
    const ticket = ++tickets;
    if (queue.length >= options.maxWaiting) throw options.busy();
    queue.push(ticket);
    const deadline = Date.now() + options.maxWaitMs;
    try {
      while (!(queue[0] === ticket && freeSlots(slots) > 0)) {
        if (Date.now() > deadline) throw options.busy();
        // The head of the line looks every POLL_MS; those behind it less often, by their place (forty waiters
        // polling every 5 ms would be 8000 wake-ups a second on the thread the work itself needs).
        await sleep(Math.min(POLL_MS * (1 + queue.indexOf(ticket)), MAX_POLL_MS));
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
  };
}
