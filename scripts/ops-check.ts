// `npm run ops:check -- --origin URL [--threshold rule=value ...]`: evaluates the alert rules that the stats
// extension can answer (docs/DESIGN.md, "Alerts") against a running deployment, prints one line per rule and
// exits 1 naming every rule that fired (2 when the deployment cannot be asked). Credentials come from API_TOKEN
// and ACCOUNT_ID in the environment, else from .dev.vars in the working directory (what `npm start` writes).
import { existsSync } from "node:fs";
import { parseArgs } from "node:util";
import { readDevVars } from "./local-platform.ts";

/** The part of `GET .../images/v1/stats` the rules read (workers/shared/pipeline-stats.ts). */
export interface PipelineStats {
  byStatus: Record<string, number>;
  oldestInFlightSeconds: number;
  lastHour: { failed: number; ready: number; deadLetters: number; renders: number; renderMsP50: number | null; renderMsP99: number | null };
}

export interface AlertRule {
  name: string;
  /** What the rule watches, as the operator reads it. */
  description: string;
  threshold: number;
  /** The figure compared with the threshold; null means "not enough data", which never fires. */
  measure(stats: PipelineStats): number | null;
}

/** Below this many finished images in the hour, a failure ratio says nothing: the failure count rule covers it. */
const MIN_FINISHED_FOR_RATIO = 20;

/** The stats-based rules and their default thresholds: a rule fires when its figure is above its threshold. */
export const ALERT_RULES: AlertRule[] = [
  {
    name: "oldest-in-flight-seconds",
    description: "age of the oldest image still queued or processing (pipeline.oldestInFlightSeconds)",
    threshold: 600,
    measure: (s) => s.oldestInFlightSeconds,
  },
  {
    name: "dead-letters-last-hour",
    description: "queue messages dead-lettered in the last hour (pipeline.lastHour.deadLetters)",
    threshold: 0,
    measure: (s) => s.lastHour.deadLetters,
  },
  {
    name: "failed-last-hour",
    description: "images that ended failed in the last hour (pipeline.lastHour.failed)",
    threshold: 25,
    measure: (s) => s.lastHour.failed,
  },
  {
    name: "failure-ratio-last-hour",
    description: `failed / (failed + ready) in the last hour, from ${MIN_FINISHED_FOR_RATIO} finished images`,
    threshold: 0.05,
    measure: (s) => {
      const finished = s.lastHour.failed + s.lastHour.ready;
      return finished >= MIN_FINISHED_FOR_RATIO ? s.lastHour.failed / finished : null;
    },
  },
  {
    name: "render-p99-ms",
    description: "99th percentile render time in the last hour, ms (pipeline.lastHour.renderMsP99)",
    threshold: 20_000,
    measure: (s) => s.lastHour.renderMsP99,
  },
];

export interface Verdict {
  rule: AlertRule;
  value: number | null;
  fired: boolean;
}

export function evaluate(stats: PipelineStats, thresholds: Record<string, number> = {}): Verdict[] {
  return ALERT_RULES.map((rule) => {
    const threshold = thresholds[rule.name] ?? rule.threshold;
    const value = rule.measure(stats);
    return { rule: { ...rule, threshold }, value, fired: value !== null && value > threshold };
  });
}

function parseThresholds(raw: string[]): Record<string, number> {
  const thresholds: Record<string, number> = {};
  for (const entry of raw) {
    const [name, value] = entry.split("=");
    if (!ALERT_RULES.some((r) => r.name === name) || value === undefined || !Number.isFinite(Number(value))) {
      throw new Error(`--threshold takes rule=number with a rule among ${ALERT_RULES.map((r) => r.name).join(", ")}; got ${JSON.stringify(entry)}`);
    }
    thresholds[name] = Number(value);
  }
  return thresholds;
}

/** API_TOKEN and ACCOUNT_ID from the environment, else from .dev.vars (KEY=value or KEY="value" lines). */
function credentials(): { apiToken: string; accountId: string } {
  const vars = existsSync(".dev.vars") ? readDevVars(".dev.vars") : {};
  const apiToken = process.env.API_TOKEN ?? vars.API_TOKEN;
  const accountId = process.env.ACCOUNT_ID ?? vars.ACCOUNT_ID;
  if (!apiToken || !accountId) throw new Error("API_TOKEN and ACCOUNT_ID must be set in the environment or in .dev.vars");
  return { apiToken, accountId };
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { origin: { type: "string" }, threshold: { type: "string", multiple: true, default: [] } } });
  if (!values.origin) throw new Error("usage: npm run ops:check -- --origin URL [--threshold rule=value ...]");
  const thresholds = parseThresholds(values.threshold ?? []);
  const { apiToken, accountId } = credentials();
  const url = `${values.origin.replace(/\/+$/, "")}/client/v4/accounts/${encodeURIComponent(accountId)}/images/v1/stats`;
  let stats: PipelineStats;
  try {
    const response = await fetch(url, { headers: { authorization: `Bearer ${apiToken}` }, signal: AbortSignal.timeout(15_000) });
    const body = (await response.json()) as { success?: boolean; result?: { pipeline?: PipelineStats } };
    if (!response.ok || !body.result?.pipeline) throw new Error(`HTTP ${response.status}: ${JSON.stringify(body).slice(0, 300)}`);
    stats = body.result.pipeline;
  } catch (error) {
    console.error(`ops:check: cannot read ${url}: ${error instanceof Error ? error.message : String(error)}`);
    return 2;
  }
  const verdicts = evaluate(stats, thresholds);
  for (const v of verdicts) {
    const shown = v.value === null ? "n/a" : String(Math.round(v.value * 1000) / 1000);
    console.log(`${v.fired ? "FIRED" : "ok   "} ${v.rule.name}: ${shown} (threshold ${v.rule.threshold}) — ${v.rule.description}`);
  }
  const fired = verdicts.filter((v) => v.fired).map((v) => v.rule.name);
  if (fired.length > 0) {
    console.error(`ops:check: ${fired.length} rule(s) fired: ${fired.join(", ")}`);
    return 1;
  }
  console.log("ops:check: every rule is within its threshold");
  return 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().then(
    (code) => process.exit(code),
    (error) => {
      console.error(`ops:check: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(2);
    },
  );
}
