// The load harness's verdicts: a target is met only when the comparison behind it is sound.
import { describe, expect, it } from "vitest";
import { compareP99 } from "../../bench/load/targets.ts";

const window = (p99: number, dropped = 0) => ({ count: 100, errors: 0, p50: p99 / 2, p99, max: p99, dropped });

describe("comparing delivery p99 with its baseline", () => {
  it("meets the target at or under the limit", () => {
    expect(compareP99(window(20), window(30), 1.5, "")).toEqual({ ratio: "1.50×", target: "≤ 1.5× met" });
  });

  it("misses it over the limit", () => {
    expect(compareP99(window(20), window(31), 1.5, "").target).toBe("≤ 1.5× MISSED");
  });

  it("does not call a ratio met when the baseline itself fell behind its rate", () => {
    // A saturated baseline has a huge p99, which would make any burst look harmless.
    expect(compareP99(window(30_000, 500), window(25_000), 1.5, "").target).toBe("≤ 1.5× not comparable (baseline fell behind)");
  });

  it("misses when requests were dropped during the event or something else went wrong, whatever the ratio", () => {
    expect(compareP99(window(20), window(21, 3), 1.5, "").target).toBe("≤ 1.5× MISSED (3 dropped)");
    expect(compareP99(window(20), window(21), 1.5, "2 stuck").target).toBe("≤ 1.5× MISSED (2 stuck)");
  });
});
