/**
 * A Worker dying half-way through an ingest, on demand: with FAULT_INJECTION=enabled (test configs only) a step
 * named by the test throws this, as if the isolate had been killed: no cleanup runs, and recovery must come from
 * the coordinator's alarm or the queue's redelivery alone.
 */
export class SimulatedCrash extends Error {
  constructor(step: string) {
    super(`simulated crash after ${step}`);
    this.name = "SimulatedCrash";
  }
}
