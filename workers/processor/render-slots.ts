import { ApiError, ErrorCode } from "../shared/errors.ts";
import { slotGate } from "../shared/slot-gate.ts";

/**
 * Renders one isolate runs at once. Each render may plan up to MEMORY_BUDGET_MB (96 MiB) of a 128 MB isolate,
 * so two at a time could exhaust it; one at a time also leaves the other cores to delivery. Up to 64 renders may
 * wait, each at most 20 s; past that a request is refused at once with 503 and Retry-After. Waiting is cheap (the
 * original is read only once the slot is held).
 */
export const withRenderSlot = slotGate({
  slots: 1,
  maxWaiting: 64,
  maxWaitMs: 20_000,
  maxHoldMs: 120_000,
  busy: () => new ApiError(503, ErrorCode.unavailable, "rendering capacity is busy; try again shortly"),
});

