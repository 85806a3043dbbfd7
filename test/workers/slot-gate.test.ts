import { describe, expect, it } from "vitest";
import { slotGate } from "../../workers/shared/slot-gate.ts";
import { sleep } from "../../workers/shared/timers.ts";

const busyError = () => new Error("busy");
const gate = (maxLagMs?: number) => slotGate({ slots: 2, maxWaiting: 8, maxWaitMs: 10_000, maxHoldMs: 60_000, busy: busyError, maxLagMs });

let sink = 0;
/** Keeps the thread busy for a while, synchronously (the Workers clock stands still meanwhile: no time can be read). */
function burn(): void {
  let x = sink;
  for (let i = 0; i < 8_000_000; i++) x = (x * 31 + i) | 0;
  sink = x;
}

/** The event loop busy in stretches, as other requests' work keeps it: `turns` synchronous burns, a timer apart. */
async function busyLoop(turns: number, state: { busy: boolean }): Promise<void> {
  state.busy = true;
  for (let i = 0; i < turns; i++) {
    burn();
    await sleep(1);
  }
  state.busy = false;
}

/** Holds a slot until `release` is called. */
function holder(withSlot: ReturnType<typeof gate>) {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let admitted = false;
  const done = withSlot(async () => {
    admitted = true;
    await held;
  });
  return { release, done, admitted: () => admitted };
}

describe("slot gate", () => {
  it("with maxLagMs, lets a second piece of work in only once the event loop runs on time again", async () => {
    const withSlot = gate(5);
    const first = holder(withSlot);
    await sleep(20);
    expect(first.admitted()).toBe(true);

    const state = { busy: false };
    const busy = busyLoop(8, state);
    let admittedWhileBusy: boolean | undefined;
    const second = withSlot(async () => {
      admittedWhileBusy = state.busy;
    });
    await second;
    await busy;
    // A slot was free all along; the gate held the second back while the loop was busy.
    expect(admittedWhileBusy).toBe(false);
    first.release();
    await first.done;
  });

  it("without maxLagMs, fills every slot however busy the event loop is", async () => {
    const withSlot = gate();
    const first = holder(withSlot);
    await sleep(20);
    const state = { busy: false };
    const busy = busyLoop(8, state);
    let admittedWhileBusy: boolean | undefined;
    await withSlot(async () => {
      admittedWhileBusy = state.busy;
    });
    await busy;
    expect(admittedWhileBusy).toBe(true);
    first.release();
    await first.done;
  });

  it("always lets work into an empty gate, so a busy isolate still makes progress one piece at a time", async () => {
    const withSlot = gate(5);
    const state = { busy: false };
    const busy = busyLoop(8, state);
    await sleep(1);
    let admittedWhileBusy: boolean | undefined;
    await withSlot(async () => {
      admittedWhileBusy = state.busy;
    });
    await busy;
    expect(admittedWhileBusy).toBe(true);
  });
});
