// `npm run capacity -- --uploads-per-day N --deliveries-per-day M [--hit-ratio H] [--mix ...]`: the capacity and
// cost model of docs/DESIGN.md ("Capacity and cost"), recomputed from the measurements in README.md (the
// `npm run bench` and `npm run load` tables) or from figures given as flags. Prints the table DESIGN shows.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

/** What the model takes from our own measurements. */
export interface Measurements {
  /** `npm run bench`, "ours" column: ms to render one original of each input (README's row label) to its set. */
  bench: Record<string, { thumbMs: number; eagerMs: number }>;
  /** `npm run load`: cached deliveries per second of one workerd thread (the small rendition, ours). */
  cachedRequestsPerSecond: number;
  /** `npm run load`: an on-demand render through the delivery URL minus the engine alone, ms. */
  renderOverheadMs: number;
  /** `npm run load`: the two cached renditions' sizes, bytes (a 240 px and a 1366 px WebP). */
  cachedBytes: { small: number; large: number };
}

/** One kind of upload in the mix: a bench input row, its share of uploads, and its original's size. */
export interface UploadKind {
  input: string;
  share: number;
  megabytes: number;
}

export interface Workload {
  uploadsPerDay: number;
  deliveriesPerDay: number;
  /** Share of deliveries answered from the Cache API. */
  hitRatio: number;
  /** Share of cache misses that render (the rest find their rendition in R2: eager, or rendered before). */
  renderShareOfMisses: number;
  mix: UploadKind[];
  /** Months of uploads kept (storage is what has accumulated by then). */
  months: number;
  /** Mean size of a delivered rendition, KB. */
  deliveredKb: number;
  /** Bytes of the eager set stored per upload, KB. */
  eagerKb: number;
}

/** List prices, USD (sources and date in docs/DESIGN.md, "Capacity and cost"). */
export const PRICES = {
  workers: { base: 5, includedRequests: 10e6, perMillionRequests: 0.3, includedCpuMs: 30e6, perMillionCpuMs: 0.02 },
  r2: { includedGb: 10, perGbMonth: 0.015, includedClassA: 1e6, perMillionClassA: 4.5, includedClassB: 10e6, perMillionClassB: 0.36 },
  d1: { includedRowsRead: 25e9, perMillionRowsRead: 0.001, includedRowsWritten: 50e6, perMillionRowsWritten: 1, includedGb: 5, perGbMonth: 0.75 },
  queues: { includedOperations: 1e6, perMillionOperations: 0.4 },
  durableObjects: { includedRequests: 1e6, perMillionRequests: 0.15, includedGbSeconds: 400_000, perMillionGbSeconds: 12.5 },
  analyticsEngine: { includedDataPoints: 10e6, perMillionDataPoints: 0.25 },
  cloudflareImages: { perHundredThousandStored: 5, perHundredThousandDelivered: 1 },
};

// What one upload and one delivery cost in operations, from the code (each count says where it comes from).
/** Eager outputs per upload: the bench's eager set (public WebP + JPEG, a 320 px WebP). */
const EAGER_OUTPUTS = 3;
const PER_UPLOAD = {
  /** The API request; the queue consumer's invocation. */
  workerRequests: 2,
  /** Gateway CPU of an upload (auth, header probe, R2 put, D1 insert, two DO calls): not measured on its own. */
  gatewayCpuMs: 5,
  /** Original put, and one put per eager output. */
  r2ClassA: 1 + EAGER_OUTPUTS,
  /** The processor's gets of the original: a ranged one for its header, then the whole object. */
  r2ClassB: 2,
  /** images insert (+3 index entries), counter, each rendition row (+1 index entry), 2 status mirrors, a pipeline sample (+1). */
  d1RowsWritten: 4 + 1 + EAGER_OUTPUTS * 2 + 2 + 2,
  /** counter check, the job's record and the variants (the inserted row comes back from the INSERT itself). */
  d1RowsRead: 5,
  /** image-jobs (write, read, delete) and the terminal event on image-events. */
  queueOperations: 3 + 3,
  /** reserveUpload, accept, claim, complete, and the reservation's alarm. */
  durableObjectRequests: 5,
  /** upload, job and render data points. */
  dataPoints: 3,
};
/** A DO call's duration as billed: a few ms at 128 MB (an estimate: the coordinator answers from memory). */
const DO_GB_SECONDS_PER_REQUEST = 0.005 * 0.128;
/** D1 bytes per image: its row and its renditions' rows, with index entries. */
const D1_BYTES_PER_IMAGE = 1500;
const DAYS_PER_MONTH = 30;
const PEAK_FACTOR = 3;

export interface CapacityReport {
  peakUploadsPerSecond: number;
  peakDeliveriesPerSecond: number;
  cpuMsPerUpload: number;
  cpuMsPerHit: number;
  cpuMsPerRenderMiss: number;
  /** Renders running at once at the upload peak (CPU-seconds per second). */
  peakConcurrentRenders: number;
  monthly: {
    workerRequests: number;
    cpuMs: number;
    r2StoredGb: number;
    r2ClassA: number;
    r2ClassB: number;
    d1RowsRead: number;
    d1RowsWritten: number;
    d1StoredGb: number;
    queueOperations: number;
    durableObjectRequests: number;
    durableObjectGbSeconds: number;
    dataPoints: number;
    egressGb: number;
    imagesStored: number;
  };
  cost: Record<"workers" | "r2" | "d1" | "queues" | "durableObjects" | "analyticsEngine" | "total" | "cloudflareImages", number>;
}

const over = (used: number, included: number, perMillion: number) => (Math.max(0, used - included) / 1e6) * perMillion;

/** The model: operations per upload and per delivery times the load, priced at list prices. */
export function capacityModel(load: Workload, measured: Measurements, prices = PRICES): CapacityReport {
  const shares = load.mix.reduce((sum, kind) => sum + kind.share, 0);
  const weighted = (value: (kind: UploadKind) => number) => load.mix.reduce((sum, kind) => sum + (kind.share / shares) * value(kind), 0);
  const benchOf = (kind: UploadKind) => {
    const row = measured.bench[kind.input];
    if (!row) throw new Error(`--mix: no bench row named ${JSON.stringify(kind.input)} (known: ${Object.keys(measured.bench).join(", ")})`);
    return row;
  };

  const cpuMsPerUpload = PER_UPLOAD.gatewayCpuMs + weighted((kind) => benchOf(kind).eagerMs);
  const cpuMsPerHit = 1000 / measured.cachedRequestsPerSecond;
  const cpuMsPerRenderMiss = weighted((kind) => benchOf(kind).thumbMs) + measured.renderOverheadMs;

  const uploads = load.uploadsPerDay * DAYS_PER_MONTH;
  const deliveries = load.deliveriesPerDay * DAYS_PER_MONTH;
  const misses = deliveries * (1 - load.hitRatio);
  const renders = misses * load.renderShareOfMisses;
  const imagesStored = uploads * load.months;
  const originalMb = weighted((kind) => kind.megabytes);

  const monthly = {
    // A render is one more request: the delivery's call to the processor (service bindings are not billed; counted anyway).
    workerRequests: uploads * PER_UPLOAD.workerRequests + deliveries + renders,
    cpuMs: uploads * cpuMsPerUpload + (deliveries - renders) * cpuMsPerHit + renders * cpuMsPerRenderMiss,
    r2StoredGb: (imagesStored * (originalMb * 1e6 + load.eagerKb * 1e3)) / 1e9,
    // A miss gets its rendition from R2; a render also gets the original and puts what it made.
    r2ClassA: uploads * PER_UPLOAD.r2ClassA + renders,
    r2ClassB: uploads * PER_UPLOAD.r2ClassB + misses + renders,
    // A miss may refresh the image's edge state (one row; at most once per image, location and 30 s); a render writes its rendition row.
    d1RowsRead: uploads * PER_UPLOAD.d1RowsRead + misses,
    d1RowsWritten: uploads * PER_UPLOAD.d1RowsWritten + renders * 2,
    d1StoredGb: (imagesStored * D1_BYTES_PER_IMAGE) / 1e9,
    queueOperations: uploads * PER_UPLOAD.queueOperations,
    // A render goes through the image's coordinator (coalescing).
    durableObjectRequests: uploads * PER_UPLOAD.durableObjectRequests + renders,
    durableObjectGbSeconds: (uploads * PER_UPLOAD.durableObjectRequests + renders) * DO_GB_SECONDS_PER_REQUEST,
    dataPoints: uploads * PER_UPLOAD.dataPoints + deliveries + renders,
    egressGb: (deliveries * load.deliveredKb * 1e3) / 1e9,
    imagesStored,
  };

  const p = prices;
  const workers =
    p.workers.base + over(monthly.workerRequests, p.workers.includedRequests, p.workers.perMillionRequests) + over(monthly.cpuMs, p.workers.includedCpuMs, p.workers.perMillionCpuMs);
  const r2 =
    Math.max(0, monthly.r2StoredGb - p.r2.includedGb) * p.r2.perGbMonth +
    over(monthly.r2ClassA, p.r2.includedClassA, p.r2.perMillionClassA) +
    over(monthly.r2ClassB, p.r2.includedClassB, p.r2.perMillionClassB);
  const d1 =
    over(monthly.d1RowsRead, p.d1.includedRowsRead, p.d1.perMillionRowsRead) +
    over(monthly.d1RowsWritten, p.d1.includedRowsWritten, p.d1.perMillionRowsWritten) +
    Math.max(0, monthly.d1StoredGb - p.d1.includedGb) * p.d1.perGbMonth;
  const queues = over(monthly.queueOperations, p.queues.includedOperations, p.queues.perMillionOperations);
  const durableObjects =
    over(monthly.durableObjectRequests, p.durableObjects.includedRequests, p.durableObjects.perMillionRequests) +
    over(monthly.durableObjectGbSeconds, p.durableObjects.includedGbSeconds, p.durableObjects.perMillionGbSeconds);
  const analyticsEngine = over(monthly.dataPoints, p.analyticsEngine.includedDataPoints, p.analyticsEngine.perMillionDataPoints);
  const cloudflareImages =
    (imagesStored / 1e5) * p.cloudflareImages.perHundredThousandStored + (deliveries / 1e5) * p.cloudflareImages.perHundredThousandDelivered;

  return {
    peakUploadsPerSecond: (PEAK_FACTOR * load.uploadsPerDay) / 86_400,
    peakDeliveriesPerSecond: (PEAK_FACTOR * load.deliveriesPerDay) / 86_400,
    cpuMsPerUpload,
    cpuMsPerHit,
    cpuMsPerRenderMiss,
    peakConcurrentRenders: ((PEAK_FACTOR * load.uploadsPerDay) / 86_400) * (cpuMsPerUpload / 1000),
    monthly,
    cost: { workers, r2, d1, queues, durableObjects, analyticsEngine, total: workers + r2 + d1 + queues + durableObjects + analyticsEngine, cloudflareImages },
  };
}

/** A duration as README's tables print it ("94 ms", "1.19 s"), in ms. */
function durationMs(text: string): number {
  const match = /^([\d.]+)\s*(ms|s)$/.exec(text.trim());
  if (!match) throw new Error(`not a duration: ${JSON.stringify(text)}`);
  return Number(match[1]) * (match[2] === "s" ? 1000 : 1);
}

const cells = (line: string) => line.split("|").map((cell) => cell.trim());

/** The figures the model needs, read from README's `npm run bench` and `npm run load` tables. */
export function parseReadmeMeasurements(readme: string): Measurements {
  const bench: Measurements["bench"] = {};
  for (const line of readme.split("\n")) {
    const [input, set, ours] = cells(line);
    if ((set !== "thumb" && set !== "eager") || !/\d/.test(ours ?? "")) continue;
    const row = (bench[input] ??= { thumbMs: NaN, eagerMs: NaN });
    row[set === "thumb" ? "thumbMs" : "eagerMs"] = durationMs(ours);
  }
  const loadRow = (prefix: string) => {
    const line = readme.split("\n").find((l) => l.startsWith(prefix));
    if (!line) throw new Error(`README has no load table row starting ${JSON.stringify(prefix)}`);
    return cells(line);
  };
  const small = loadRow("cached small (");
  const large = loadRow("cached large (");
  const overhead = loadRow("on-demand render overhead");
  const bytesOf = (label: string) => Number(/\(([\d,]+) B\)/.exec(label)![1].replaceAll(",", ""));
  return {
    bench,
    cachedRequestsPerSecond: Number(small[1]),
    renderOverheadMs: Number(/\+([\d.]+) ms/.exec(overhead[3])![1]),
    cachedBytes: { small: bytesOf(small[0]), large: bytesOf(large[0]) },
  };
}

/** `--mix "12 MP noisy base=0.7@3.9,24 MP photo=0.3@8"`: bench input = share of uploads @ original MB. */
export function parseMix(text: string): UploadKind[] {
  return text.split(",").map((entry) => {
    const match = /^(.+)=([\d.]+)@([\d.]+)$/.exec(entry.trim());
    if (!match) throw new Error(`--mix entry must be "<bench input>=<share>@<MB>", got ${JSON.stringify(entry)}`);
    return { input: match[1].trim(), share: Number(match[2]), megabytes: Number(match[3]) };
  });
}

/** The example in docs/DESIGN.md. */
export const DOCUMENTED_EXAMPLE = {
  uploadsPerDay: 100_000,
  deliveriesPerDay: 10_000_000,
  hitRatio: 0.95,
  renderShareOfMisses: 0.2,
  mix: "12 MP noisy base=0.6@3.9,24 MP photo=0.3@8,PNG alpha 6 MP=0.1@12",
  months: 12,
};

const n = (value: number, digits = 0) => value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const usd = (value: number) => `$${n(value, 2)}`;

/** The table DESIGN shows. */
export function formatReport(load: Workload, r: CapacityReport): string {
  const m = r.monthly;
  const rows: [string, string][] = [
    ["load", `${n(load.uploadsPerDay)} uploads/day, ${n(load.deliveriesPerDay)} deliveries/day, hit ratio ${load.hitRatio}, ${load.renderShareOfMisses} of misses render, ${load.months} months kept`],
    ["peak (3× average)", `${n(r.peakUploadsPerSecond, 1)} uploads/s, ${n(r.peakDeliveriesPerSecond)} deliveries/s`],
    ["CPU per upload / hit / render miss", `${n(r.cpuMsPerUpload, 1)} ms / ${n(r.cpuMsPerHit, 2)} ms / ${n(r.cpuMsPerRenderMiss, 1)} ms`],
    ["renders at once at the upload peak", n(r.peakConcurrentRenders, 1)],
    ["Workers requests / CPU per month", `${n(m.workerRequests / 1e6, 1)} M / ${n(m.cpuMs / 1e6, 1)} M CPU-ms`],
    ["R2 stored / class A / class B per month", `${n(m.r2StoredGb)} GB / ${n(m.r2ClassA / 1e6, 2)} M / ${n(m.r2ClassB / 1e6, 2)} M`],
    ["D1 rows read / written per month, stored", `${n(m.d1RowsRead / 1e6, 1)} M / ${n(m.d1RowsWritten / 1e6, 1)} M, ${n(m.d1StoredGb, 1)} GB`],
    ["Queues operations per month", `${n(m.queueOperations / 1e6, 1)} M`],
    ["Durable Object requests per month", `${n(m.durableObjectRequests / 1e6, 1)} M (${n(m.durableObjectGbSeconds)} GB-s)`],
    ["Analytics Engine data points per month", `${n(m.dataPoints / 1e6, 1)} M`],
    ["egress per month", `${n(m.egressGb)} GB (free on Workers and R2)`],
    ["cost: Workers / R2 / D1 / Queues / DO / AE", [r.cost.workers, r.cost.r2, r.cost.d1, r.cost.queues, r.cost.durableObjects, r.cost.analyticsEngine].map(usd).join(" / ")],
    ["cost per month, this platform", usd(r.cost.total)],
    ["cost per month, Cloudflare Images", `${usd(r.cost.cloudflareImages)} (${n(m.imagesStored / 1e6, 1)} M images stored, ${n((load.deliveriesPerDay * DAYS_PER_MONTH) / 1e6)} M delivered)`],
  ];
  return ["| figure | value |", "|---|---|", ...rows.map(([figure, value]) => `| ${figure} | ${value} |`)].join("\n");
}

/** The workload from command-line flags, defaulted to the documented example where a flag is missing. */
export function workloadFromArgs(args: string[], measured: Measurements): Workload {
  const { values } = parseArgs({
    args,
    options: {
      "uploads-per-day": { type: "string" },
      "deliveries-per-day": { type: "string" },
      "hit-ratio": { type: "string" },
      "render-share-of-misses": { type: "string" },
      mix: { type: "string" },
      months: { type: "string" },
      "delivered-kb": { type: "string" },
      "eager-kb": { type: "string" },
    },
  });
  const number = (name: keyof typeof values, fallback: number) => {
    const raw = values[name];
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} must be a non-negative number, got ${JSON.stringify(raw)}`);
    return value;
  };
  const hitRatio = number("hit-ratio", DOCUMENTED_EXAMPLE.hitRatio);
  if (hitRatio > 1) throw new Error(`--hit-ratio must be from 0 to 1, got ${hitRatio}`);
  const { small, large } = measured.cachedBytes;
  return {
    uploadsPerDay: number("uploads-per-day", DOCUMENTED_EXAMPLE.uploadsPerDay),
    deliveriesPerDay: number("deliveries-per-day", DOCUMENTED_EXAMPLE.deliveriesPerDay),
    hitRatio,
    renderShareOfMisses: number("render-share-of-misses", DOCUMENTED_EXAMPLE.renderShareOfMisses),
    mix: parseMix(values.mix ?? DOCUMENTED_EXAMPLE.mix),
    months: number("months", DOCUMENTED_EXAMPLE.months),
    // Measured renditions: delivered = the mean of the two cached sizes; eager set = two 1366 px outputs and a thumbnail.
    deliveredKb: number("delivered-kb", (small + large) / 2 / 1e3),
    eagerKb: number("eager-kb", (2 * large + small) / 1e3),
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    const measured = parseReadmeMeasurements(readFileSync(new URL("../README.md", import.meta.url), "utf8"));
    const load = workloadFromArgs(process.argv.slice(2), measured);
    console.log(formatReport(load, capacityModel(load, measured)));
  } catch (error) {
    console.error(`capacity: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(2);
  }
}
