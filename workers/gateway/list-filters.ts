import { and, eq, gt, gte, inArray, lt, lte, sql, type SQL } from "drizzle-orm";
import { badRequest, quote } from "../shared/errors.ts";
import { parseJsonNumber } from "../shared/numerals.ts";
import { images } from "../shared/schema.ts";

// `GET /images/v2` metadata filters, as Cloudflare documents them (the SDK's V2ListParams.meta):
// `meta.<field>[<operator>]=<value>`, e.g. `meta.region.name[eq]=eu-west`, `meta.priority[gte:number]=1`,
// `meta.status[in]=pending|flagged`. Filters combine with AND; contradictory ones simply match nothing.

/** Cloudflare's limits: filters per request, keys in a field path, values in an `in` list. */
export const MAX_METADATA_FILTERS = 5;
export const MAX_FILTER_DEPTH = 5;
export const MAX_IN_VALUES = 10;

type ValueType = "string" | "number" | "boolean";
type Operator = "eq" | "gt" | "gte" | "lt" | "lte" | "in";

/** Each operator's value types, the first being what the operator means without a `:type`. */
const OPERATORS: Record<Operator, readonly ValueType[]> = {
  eq: ["string", "number", "boolean"],
  gt: ["number"],
  gte: ["number"],
  lt: ["number"],
  lte: ["number"],
  in: ["string", "number"],
};

export type MetadataFilter =
  | { path: string[]; operator: Operator; type: "string"; values: string[] }
  | { path: string[]; operator: Operator; type: "number"; values: number[] }
  | { path: string[]; operator: Operator; type: "boolean"; values: boolean[] };

const PARAMETER = /^meta\.(.+)\[([a-z]+)(?::([a-z]+))?\]$/;
/** A key of a field path. `"` cannot be written inside a quoted key of an SQLite JSON path; brackets and dots are the syntax. */
const FIELD_KEY = /^[^.[\]"\p{Cc}]+$/u;

/** Reads every `meta.…` query parameter into a typed filter; a malformed one is refused, naming it. */
export function parseMetadataFilters(query: URLSearchParams): MetadataFilter[] {
  const filters: MetadataFilter[] = [];
  for (const [name, raw] of query) {
    if (name !== "meta" && !name.startsWith("meta.") && !name.startsWith("meta[")) continue;
    if (filters.length === MAX_METADATA_FILTERS) {
      throw badRequest(`at most ${MAX_METADATA_FILTERS} metadata filters can be given per request; ${quote(name)} is one more`);
    }
    filters.push(parseFilter(name, raw));
  }
  return filters;
}

function parseFilter(name: string, raw: string): MetadataFilter {
  const m = PARAMETER.exec(name);
  if (!m) throw badRequest(`metadata filter ${quote(name)} must be written meta.<field>[<operator>] or meta.<field>[<operator>:<type>]`);
  const [, field, operatorName, typeName] = m;
  const path = field.split(".");
  if (path.length > MAX_FILTER_DEPTH) {
    throw badRequest(`metadata filter ${quote(name)} is nested ${path.length} levels deep; the limit is ${MAX_FILTER_DEPTH}`);
  }
  if (!path.every((key) => FIELD_KEY.test(key))) {
    throw badRequest(`metadata filter ${quote(name)} must name a field as dot-separated keys without brackets, quotes or control characters`);
  }
  if (!Object.hasOwn(OPERATORS, operatorName)) {
    throw badRequest(`metadata filter ${quote(name)} has an unknown operator; use one of ${Object.keys(OPERATORS).join(", ")}`);
  }
  const operator = operatorName as Operator;
  const allowed = OPERATORS[operator];
  const type = (typeName ?? allowed[0]) as ValueType;
  if (!allowed.includes(type)) {
    throw badRequest(`metadata filter ${quote(name)}: ${operator} compares ${allowed.join(" or ")} values, not ${quote(typeName)}`);
  }
  const texts = operator === "in" ? raw.split("|") : [raw];
  if (texts.length > MAX_IN_VALUES) {
    throw badRequest(`metadata filter ${quote(name)} lists ${texts.length} values; the limit is ${MAX_IN_VALUES}`);
  }
  const invalid = (text: string, expected: string) =>
    badRequest(`metadata filter ${quote(name)} needs ${expected}, got ${quote(text)}`);
  switch (type) {
    case "string":
      return { path, operator, type, values: texts };
    case "number":
      return {
        path,
        operator,
        type,
        values: texts.map((text) => parseJsonNumber(text) ?? throwError(invalid(text, "a number (like 5, -1.5 or 2e3)"))),
      };
    case "boolean":
      return {
        path,
        operator,
        type,
        values: texts.map((text) => (text === "true" ? true : text === "false" ? false : throwError(invalid(text, "true or false")))),
      };
  }
}

function throwError(error: Error): never {
  throw error;
}

/**
 * The SQL condition that matches images whose metadata passes every filter, or undefined for no filters.
 * Values and paths are bound, never written into the SQL. Each filter checks the JSON type too: SQLite's
 * json_extract gives 1 for `true` and the JSON text for an object, which must not equal the number 1 or a string.
 */
export function metadataFilterCondition(filters: MetadataFilter[]): SQL | undefined {
  if (filters.length === 0) return undefined;
  return and(...filters.map(filterCondition));
}

function filterCondition(filter: MetadataFilter): SQL {
  // Every key is quoted, so keys that look like numbers or hold spaces mean what they say.
  const jsonPath = `$${filter.path.map((key) => `."${key}"`).join("")}`;
  const value = sql`json_extract(${images.meta}, ${jsonPath})`;
  const jsonType = sql`json_type(${images.meta}, ${jsonPath})`;
  switch (filter.type) {
    case "boolean":
      return eq(jsonType, filter.values[0] ? "true" : "false");
    case "string":
      return and(eq(jsonType, "text"), compare(value, filter.operator, filter.values))!;
    case "number":
      return and(inArray(jsonType, ["integer", "real"]), compare(value, filter.operator, filter.values))!;
  }
}

function compare(value: SQL, operator: Operator, values: (string | number)[]): SQL {
  switch (operator) {
    case "eq":
      return eq(value, values[0]);
    case "in":
      return inArray(value, values);
    case "gt":
      return gt(value, values[0]);
    case "gte":
      return gte(value, values[0]);
    case "lt":
      return lt(value, values[0]);
    case "lte":
      return lte(value, values[0]);
  }
}
