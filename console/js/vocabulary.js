// What the API accepts, for the console's forms: workers/shared/transform.ts's FITS and METADATA_MODES, and the
// v2 list's metadata filters (workers/gateway/list-filters.ts). A browser cannot import that TypeScript without a
// build step, so test/workers/console-modules.test.ts fails when these and the API's disagree.
export const FITS = ["scale-down", "contain", "cover", "crop", "pad", "squeeze"];
export const METADATA_MODES = ["keep", "copyright", "none"];

/** Filters per v2 list request. */
export const MAX_METADATA_FILTERS = 5;
/** `meta.<field>[<operator>]` operators (with a value type where it is not the operator's default), and their labels. */
export const METADATA_FILTER_OPERATORS = [
  ["eq", "= (text)"],
  ["eq:number", "= (number)"],
  ["eq:boolean", "= (true/false)"],
  ["in", "is one of (a|b|c)"],
  ["gt", ">"],
  ["gte", "≥"],
  ["lt", "<"],
  ["lte", "≤"],
];
