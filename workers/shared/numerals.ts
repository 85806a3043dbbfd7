// Numbers as they arrive in URLs and form fields. `Number()` accepts far more than a client means (" 12 ",
// "0x10", "1e3", "", "Infinity"), so every text-to-number at the edge goes through one of these instead.

const DECIMAL_INTEGER = /^[0-9]+$/;
const DECIMAL_NUMBER = /^[0-9]+(?:\.[0-9]+)?$/;
/** JSON's number grammar: an optional minus, no leading zeros, optional fraction and exponent. */
const JSON_NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;

/** A non-negative integer written in decimal digits only, or undefined for anything else (or beyond 2^53). */
export function parseDecimalInteger(text: string): number | undefined {
  if (!DECIMAL_INTEGER.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** A non-negative number written as decimal digits with an optional `.fraction`, or undefined for anything else. */
export function parseDecimalNumber(text: string): number | undefined {
  if (!DECIMAL_NUMBER.test(text)) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

/** A finite number in JSON's syntax (signed, fractions and exponents allowed), or undefined for anything else. */
export function parseJsonNumber(text: string): number | undefined {
  if (!JSON_NUMBER.test(text)) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}
