import { sleep } from "./timers.ts";

/**
 * A per-isolate gate: at most `slots` pieces of work run at once, the rest wait in arrival order. The isolate's
 * memory is module-level by nature, so a gate that protects it is too (one per kind of work, made at module level).
 *
 * Waiters poll on a timer instead of awaiting a promise another request resolves: the runtime cancels a request
 * that waits on nothing but another request's work as hung. A holder that never released (its request was
 * cancelled mid-work) is dropped after `maxHoldMs`, so a lost release cannot close the gate for good. Past
 * `maxWaiting` waiters, or after `maxWaitMs` of waiting, `busy()` is thrown.
 *
 * With `maxLagMs`, the gate also keeps the isolate responsive for the other requests it serves. An empty gate
 * lets work in at once, so a busy isolate still makes progress, one piece at a time. Beyond that, work is let in
 * only after a poll that fired at most `maxLagMs` late (how late a timer fires is how long the event loop was
 * busy with other work) and that began SETTLE_MS or more after the last admission, so that the cost of the work
 * let in last has had time to show. Where the work mostly waits on I/O, timers fire on time and the slots fill
 * within a few SETTLE_MS. Where it keeps the thread busy, the gate narrows to one at a time. Locally that is every
 * upload: R2 and D1 are emulated on the thread that serves deliveries, and forty uploads let in at the rate they
 * arrived had all been admitted before the first one's cost showed.
 */
export interface SlotGateOptions {
  slots: number;
  maxWaiting: number;
  maxWaitMs: number;
  maxHoldMs: number;
  busy: () => Error;
  maxLagMs?: number;
}

const POLL_MS = 5;
const MAX_POLL_MS = 100;
/** With maxLagMs: how long after letting work in the gate waits before it measures whether there is room for more. */
const SETTLE_MS = 100;

export function slotGate(options: SlotGateOptions) {
  const holders = new Map<number, number>();
  const queue: number[] = [];
  let tickets = 0;
  let lastAdmitted = 0;
  const freeSlots = (slots: number) => {
    const now = Date.now();
    for (const [ticket, since] of holders) if (now - since > options.maxHoldMs) holders.delete(ticket);
    return slots - holders.size;
  };
  /** Runs `work` when a slot is free; `slots` and `maxLagMs` override the gate's own (configured ones). */
  return async function withSlot<T>(work: () => Promise<T>, slots = options.slots, maxLagMs = options.maxLagMs): Promise<T> {
    const ticket = ++tickets;
    if (queue.length >= options.maxWaiting) throw options.busy();
    queue.push(ticket);
    const deadline = Date.now() + options.maxWaitMs;
    // How late this waiter's last timer fired, and when that poll began; unknown before the first poll.
    let lag = Number.POSITIVE_INFINITY;
    let sampledFrom = 0;
    const responsive = () => maxLagMs === undefined || holders.size === 0 || (lag <= maxLagMs && sampledFrom >= lastAdmitted + SETTLE_MS);
    try {
      while (!(queue[0] === ticket && freeSlots(slots) > 0 && responsive())) {
        if (Date.now() > deadline) throw options.busy();
        // The head of the line looks every POLL_MS; those behind it less often, by their place (forty waiters
        // polling every 5 ms would be 8000 wake-ups a second on the thread the work itself needs).
        const wait = Math.min(POLL_MS * (1 + queue.indexOf(ticket)), MAX_POLL_MS);
        sampledFrom = Date.now();
        await sleep(wait);
        lag = Math.max(0, Date.now() - sampledFrom - wait);
      }
    } finally {
      queue.splice(queue.indexOf(ticket), 1);
    }
    holders.set(ticket, (lastAdmitted = Date.now()));
    try {
      return await work();
    } finally {
      holders.delete(ticket);
    }
  };
}
