/**
 * A delivery's `Server-Timing` header (browsers show it in their network panel): the time of each step the answer
 * waited on, in the order they ran, e.g. `edge;dur=0, cache;dur=1, r2;dur=2, limit;dur=0, render;dur=21,
 * original;dur=3, engine;dur=11`. Steps are timed between awaits: the Workers clock advances at I/O, which is where
 * a delivery's time goes; the engine's own time comes from the processor.
 */
export class ServerTiming {
  private readonly entries: string[] = [];
  private last = Date.now();

  /** Ends the step `name`, begun where the previous one ended. */
  step(name: string): void {
    const now = Date.now();
    this.entries.push(`${name};dur=${now - this.last}`);
    this.last = now;
  }

  /** A step timed elsewhere (the processor's), in milliseconds. */
  add(name: string, ms: number | undefined): void {
    if (ms !== undefined) this.entries.push(`${name};dur=${Math.round(ms * 10) / 10}`);
  }

  header(): string {
    return this.entries.join(", ");
  }
}
