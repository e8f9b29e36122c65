/**
 * The storable domain: what the hub accepts, PostgreSQL stores as sent. Every schema (and the fast path of
 * upcasting) checks readings against these bounds, at the hub and again where the processor decodes a task, so a
 * reading that passes can be stored, rolled up and read back unchanged, and one that cannot is refused at the door
 * with its field named — never accepted and then lost with its batch.
 *
 * - Time: from the Unix epoch to the end of 2199 (UTC). PostgreSQL holds 4713 BC to 294276 AD, JavaScript ±275,760
 *   years; no sensor reading needs either end, and a year-0 or year-9999 stamp is a broken clock, not a reading.
 * - Value: finite, magnitude at most 1e100. Far beyond any physical quantity, and small enough that no sum, square
 *   or product a rollup or a query forms from such values (n·1e100, (2·1e100)²·n for any count n < 2^53) comes near
 *   float8's 1.8e308, so aggregation can never overflow.
 * - Text (event ids, device ids, metric names, labels, units): well-formed Unicode — a lone UTF-16 surrogate is
 *   refused, never rewritten (PostgreSQL's UTF-8 would turn it into U+FFFD and two distinct ids into one) — with no
 *   control characters (C0, DEL, C1: newlines and ANSI escapes forge log lines and terminals) and no bidirectional
 *   formatting characters (a right-to-left override makes an id read as another). Lengths: FIELD_LIMITS.
 */
export const STORABLE = {
  /** Earliest event time (inclusive): 1970-01-01T00:00:00.000Z. */
  minEventMs: 0,
  /** Latest event time (exclusive): 2200-01-01T00:00:00.000Z. */
  endEventMs: Date.UTC(2200, 0, 1),
  /** Largest magnitude of a value. */
  maxAbsValue: 1e100,
} as const;

export const EVENT_TIME_RANGE_MESSAGE = 'must be from 1970-01-01T00:00:00Z up to (not including) 2200-01-01T00:00:00Z';
export const VALUE_RANGE_MESSAGE = 'must be a finite number of magnitude at most 1e100';

/** True for an event time (epoch ms) inside the storable range. */
export function isStorableTime(ms: number): boolean {
  return ms >= STORABLE.minEventMs && ms < STORABLE.endEventMs;
}

/** True for a finite value inside the storable magnitude (NaN and ±Infinity are not). */
export function isStorableValue(v: number): boolean {
  return v >= -STORABLE.maxAbsValue && v <= STORABLE.maxAbsValue;
}

const hex = (c: number) => `U+${c.toString(16).toUpperCase().padStart(4, '0')}`;

/**
 * Why `s` is not storable text, or undefined when it is. One pass over the code units: printable ASCII and most
 * other text leave at the first comparison, so the common id costs a few nanoseconds.
 */
export function storableTextIssue(s: string): string | undefined {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c < 0x7f) continue;
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) {
      return `must not contain control characters (${hex(c)} at position ${i})`;
    }
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++; // a well-formed pair: one character outside the BMP
        continue;
      }
      return `must be well-formed Unicode (a lone surrogate ${hex(c)} at position ${i})`;
    }
    if (c >= 0xdc00 && c <= 0xdfff) return `must be well-formed Unicode (a lone surrogate ${hex(c)} at position ${i})`;
    if (c === 0x061c || c === 0x200e || c === 0x200f || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)) {
      return `must not contain bidirectional formatting characters (${hex(c)} at position ${i})`;
    }
  }
  return undefined;
}
