import type { Config } from "../shared/config.ts";
import { SimulatedCrash } from "../shared/faults.ts";

export { SimulatedCrash };

/**
 * A Worker that dies half-way through an upload, on demand: with FAULT_INJECTION=enabled (test configs only) a
 * request whose `x-fault-after` header names a step stops right after that step, as if the isolate had been
 * killed: no cleanup runs. Recovery must then come from the coordinator's alarm alone.
 */
export type UploadStep = "reserved" | "original-stored" | "recorded" | "token-spent";

export function faultPoint(config: Config, request: Request, step: UploadStep): void {
  if (config.faultInjection && request.headers.get("x-fault-after") === step) throw new SimulatedCrash(step);
}
