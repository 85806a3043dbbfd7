/** How the harness turns measurements into a verdict against a phase's target. */
import type { WindowSummary } from "./http-load.ts";

/** "≥ 0.9× met" or "≥ 0.9× MISSED". */
export function verdict(met: boolean, target: string): string {
  return `${target} ${met ? "met" : "MISSED"}`;
}

/**
 * The ratio of two windows' p99 against its limit. A baseline that dropped requests did not keep up with the
 * rate, so there is nothing sound to compare with; drops during the event understate its p99, so they miss.
 */
export function compareP99(baseline: WindowSummary, during: WindowSummary, limit: number, otherProblem: string): { ratio: string; target: string } {
  const ratio = `${(during.p99 / baseline.p99).toFixed(2)}×`;
  const target = `≤ ${limit}×`;
  if (baseline.dropped > 0) return { ratio, target: `${target} not comparable (baseline fell behind)` };
  const problems = [during.dropped > 0 ? `${during.dropped} dropped` : "", otherProblem].filter(Boolean);
  const met = during.p99 / baseline.p99 <= limit && problems.length === 0;
  return { ratio, target: `${verdict(met, target)}${problems.length > 0 ? ` (${problems.join(", ")})` : ""}` };
}
