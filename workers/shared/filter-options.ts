// Cloudflare's filter options (blur, sharpen, brightness, contrast, gamma, saturation) as requests give them:
// validated here once into the Transform's `filters`; ranges are the engine's (FILTERS in wasm/src/vocabulary.ts).
import { badRequest, quote } from "./errors.ts";
import { parseDecimalNumber } from "./numerals.ts";
import { FILTERS, FILTER_NAMES, filterInRange, type FilterName, type Filters } from "../../wasm/src/vocabulary.ts";

export { FILTER_NAMES, NO_FILTERS, type FilterName, type Filters } from "../../wasm/src/vocabulary.ts";

/** What each filter's number is, for the error that refuses one. */
const EXPECTED: Record<FilterName, string> = {
  blur: `0 (none) or a radius from ${FILTERS.blur.min} to ${FILTERS.blur.max}`,
  sharpen: `a strength from ${FILTERS.sharpen.min} (none) to ${FILTERS.sharpen.max}`,
  brightness: `a factor above 0 and at most ${FILTERS.brightness.max} (1 = no change; 0 is ignored)`,
  contrast: `a factor above 0 and at most ${FILTERS.contrast.max} (1 = no change; 0 is ignored)`,
  gamma: `a factor above 0 and at most ${FILTERS.gamma.max} (1 = no change; 0 is ignored)`,
  saturation: `a factor from 0 (greyscale) to ${FILTERS.saturation.max} (1 = no change)`,
};

export function isFilterName(name: string): name is FilterName {
  return Object.hasOwn(FILTERS, name);
}

/**
 * One filter's value, from URL text (decimal digits with an optional fraction) or a JSON number. The factors
 * Cloudflare ignores at 0 (brightness, contrast, gamma) come back as their `none`, the same transform as no option.
 */
export function parseFilterOption(name: FilterName, value: unknown): number {
  const n = typeof value === "string" ? parseDecimalNumber(value) : typeof value === "number" && Number.isFinite(value) ? value : undefined;
  const filter: { none: number; aboveMin?: true } = FILTERS[name];
  if (n === 0 && filter.aboveMin) return filter.none;
  if (n === undefined || !filterInRange(name, n)) throw badRequest(`${name} must be ${EXPECTED[name]}, in decimal digits, got ${quote(value)}`);
  return n;
}

/**
 * The fingerprint's words for the filters: only those not at their default (so keys from before filters existed
 * stay the same), each under its own name, its number in JavaScript's shortest form (`5.0` and `5` are one text).
 */
export function canonicalFilters(f: Filters): string[] {
  return FILTER_NAMES.filter((name) => f[name] !== FILTERS[name].none).map((name) => `${name}=${f[name]}`);
}
