// The capacity and cost model (scripts/capacity.ts): it reads our measurements from README's tables, and DESIGN's
// documented example is what it computes from them.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  capacityModel,
  formatReport,
  parseMix,
  parseReadmeMeasurements,
  workloadFromArgs,
  type Measurements,
} from "../../scripts/capacity.ts";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
const design = readFileSync(new URL("../../docs/DESIGN.md", import.meta.url), "utf8");

/** README table lines in the shape `npm run bench` and `npm run load` print them. */
const tables = [
  "input             | set   | ours   | sharp  | naive jSq | ours/sharp",
  "12 MP noisy base  | thumb | 94 ms  | 78 ms  | 529 ms    | 1.20×",
  "12 MP noisy base  | eager | 1.19 s | 371 ms | 1.85 s    | 0.95×",
  "cached small (10,058 B) req/s                                                      | 800                  | bare 1048              | 0.85×",
  "cached large (197,042 B) req/s                                                     | 638                  | bare 645               | 0.99×",
  "on-demand render overhead: 12 MP smooth JPEG → ~320 px WebP, 15 sequential renders | delivery p50 24.7 ms | engine p50 11.0 ms     | +13.7 ms  | ≤ 5 ms MISSED",
].join("\n");

describe("capacity model", () => {
  it("reads the bench and load figures from README's tables", () => {
    expect(parseReadmeMeasurements(tables)).toEqual({
      bench: { "12 MP noisy base": { thumbMs: 94, eagerMs: 1190 } },
      cachedRequestsPerSecond: 800,
      renderOverheadMs: 13.7,
      cachedBytes: { small: 10_058, large: 197_042 },
    });
  });

  it("finds every bench input of the README it ships with", () => {
    const { bench } = parseReadmeMeasurements(readme);
    expect(Object.keys(bench)).toContain("12 MP noisy base");
    for (const row of Object.values(bench)) expect(row.thumbMs > 0 && row.eagerMs > 0).toBe(true);
  });

  it("puts the peak at three times the average and prices each upload by its bench row", () => {
    const measured: Measurements = parseReadmeMeasurements(tables);
    const load = workloadFromArgs(["--uploads-per-day", "86400", "--deliveries-per-day", "864000", "--mix", "12 MP noisy base=1@4"], measured);
    const report = capacityModel(load, measured);
    expect(report.peakUploadsPerSecond).toBe(3);
    expect(report.peakDeliveriesPerSecond).toBe(30);
    expect(report.cpuMsPerUpload).toBe(1190 + 5);
    expect(report.cpuMsPerHit).toBe(1000 / 800);
    expect(report.cpuMsPerRenderMiss).toBeCloseTo(94 + 13.7);
  });

  it("refuses a mix entry it cannot read, and one naming no bench input, saying which", () => {
    expect(() => parseMix("12 MP=half")).toThrow('--mix entry must be "<bench input>=<share>@<MB>", got "12 MP=half"');
    const measured = parseReadmeMeasurements(tables);
    expect(() => capacityModel(workloadFromArgs(["--mix", "8 MP=1@2"], measured), measured)).toThrow(/no bench row named "8 MP"/);
  });

  it("gives, for DESIGN's documented example, the table DESIGN shows", () => {
    const measured = parseReadmeMeasurements(readme);
    const load = workloadFromArgs([], measured);
    expect(design).toContain(formatReport(load, capacityModel(load, measured)));
  });
});
