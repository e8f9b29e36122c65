import { z } from 'zod';
import {
  EVENT_TIME_RANGE_MESSAGE,
  VALUE_RANGE_MESSAGE,
  isStorableTime,
  isStorableValue,
  storableTextIssue,
} from './storable.js';

/** Epoch numbers below this are seconds, at or above it milliseconds (1e11 s is the year 5138). */
export const EPOCH_MS_THRESHOLD = 1e11;

/**
 * An instant as producers send it: ISO-8601 with a zone (`Z` or `±hh:mm`), or epoch seconds (or milliseconds,
 * told apart by size). Normalised to an ISO-8601 UTC string with millisecond precision. A zoneless ISO time is
 * refused: guessing the zone is how readings end up an hour off. Only the storable range is accepted
 * (storable.ts).
 */
export const InstantSchema = z.union([z.string(), z.number()]).transform((input, ctx) => {
  let ms: number;
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) {
      ctx.addIssue({ code: 'custom', message: 'must be a non-negative epoch time in seconds or milliseconds' });
      return z.NEVER;
    }
    ms = input < EPOCH_MS_THRESHOLD ? input * 1000 : input;
  } else {
    if (!ISO_WITH_ZONE.test(input)) {
      ctx.addIssue({
        code: 'custom',
        message: 'must be an ISO-8601 date-time with a zone (e.g. 2026-01-27T12:00:00Z) or epoch seconds',
      });
      return z.NEVER;
    }
    const fast = canonicalInstantMs(input);
    if (fast !== undefined && isStorableTime(fast)) return input; // already the canonical form, and a real instant
    ms = fast ?? Date.parse(input);
  }
  const date = new Date(ms);
  if (Number.isNaN(date.getTime())) {
    ctx.addIssue({ code: 'custom', message: 'is not a valid date-time' });
    return z.NEVER;
  }
  if (!isStorableTime(date.getTime())) {
    ctx.addIssue({ code: 'custom', message: EVENT_TIME_RANGE_MESSAGE });
    return z.NEVER;
  }
  return date.toISOString();
});

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The number spelled by the ASCII digits s[from, to), or -1 if any of them is not a digit. */
function digits(s: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/**
 * Epoch ms of an instant in our canonical form (`2026-01-27T12:00:00.000Z`, what toISOString gives), checked field
 * by field; undefined for any other spelling or an impossible date (Feb 30). Most producers send this form, and
 * reading it this way costs a tenth of `Date.parse` + `toISOString`, once per event on the ingest path (character
 * codes rather than a regular expression: the match arrays were a measurable part of HTTP ingest).
 */
export function canonicalInstantMs(s: string): number | undefined {
  if (s.length !== 24) return undefined;
  // Separators at their places: 2026-01-27T12:00:00.000Z
  if (
    s.charCodeAt(4) !== 45 ||
    s.charCodeAt(7) !== 45 ||
    s.charCodeAt(10) !== 84 ||
    s.charCodeAt(13) !== 58 ||
    s.charCodeAt(16) !== 58 ||
    s.charCodeAt(19) !== 46 ||
    s.charCodeAt(23) !== 90
  ) {
    return undefined;
  }
  const y = digits(s, 0, 4);
  const mo = digits(s, 5, 7);
  const d = digits(s, 8, 10);
  const h = digits(s, 11, 13);
  const mi = digits(s, 14, 16);
  const sec = digits(s, 17, 19);
  const ms = digits(s, 20, 23);
  if ((y | mo | d | h | mi | sec | ms) < 0) return undefined; // a non-digit somewhere
  const leap = mo === 2 && y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 1 : 0;
  // Years below 100 are read by Date.UTC as 19xx: leave those (and the pre-epoch past) to Date.parse.
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > DAYS_IN_MONTH[mo - 1]! + leap || h > 23 || mi > 59 || sec > 59) {
    return undefined;
  }
  return Date.UTC(y, mo - 1, d, h, mi, sec, ms);
}

/** Epoch ms of an ISO-8601 instant: the canonical form fast, anything else through Date.parse. */
export function instantMs(iso: string): number {
  return canonicalInstantMs(iso) ?? Date.parse(iso);
}

const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i;

/**
 * A reading's value: JSON cannot carry NaN, but `1e999` parses to Infinity, so finiteness is checked; and the
 * storable magnitude (storable.ts), so that no rollup of it can overflow.
 */
export const ValueSchema = z
  .number({
    error: (issue) =>
      typeof issue.input === 'number' && !Number.isFinite(issue.input) ? 'must be a finite number' : 'must be a number',
  })
  .refine(isStorableValue, { error: VALUE_RANGE_MESSAGE });

/** Refuses text outside the storable domain (lone surrogates, control and bidi characters), naming the culprit. */
function storableText(s: string, ctx: z.RefinementCtx): void {
  const issue = storableTextIssue(s);
  if (issue) ctx.addIssue({ code: 'custom', message: issue });
}

/** Field limits, shared by the schemas and the fast path of upcasting (fast-upcast.ts), so the two cannot drift. */
export const FIELD_LIMITS = { eventId: 128, deviceId: 128, metricName: 64, label: 128, unit: 32 } as const;
export const METRIC_NAME_PATTERN = /^[A-Za-z0-9_.:-]+$/;

export const DeviceIdSchema = z
  .string({ error: 'must be a string' })
  .trim()
  .min(1, { error: 'must not be empty' })
  .max(FIELD_LIMITS.deviceId, { error: `must be at most ${FIELD_LIMITS.deviceId} characters` })
  .superRefine(storableText);

export const MetricNameSchema = z
  .string({ error: 'must be a string' })
  .trim()
  .min(1, { error: 'must not be empty' })
  .max(FIELD_LIMITS.metricName, { error: `must be at most ${FIELD_LIMITS.metricName} characters` })
  .regex(METRIC_NAME_PATTERN, { error: 'may hold only letters, digits and _ . : -' });

export const LabelSchema = z
  .string()
  .trim()
  .max(FIELD_LIMITS.label, { error: `must be at most ${FIELD_LIMITS.label} characters` })
  .superRefine(storableText);

/** Canonical unit spellings, so that `celsius`, `°C` and `C` are one unit downstream. */
const UNIT_ALIASES: Record<string, string> = {
  c: 'C',
  '°c': 'C',
  celsius: 'C',
  degc: 'C',
  f: 'F',
  '°f': 'F',
  fahrenheit: 'F',
  '%': '%',
  '%rh': '%',
  percent: '%',
  rh: '%',
  v: 'V',
  volt: 'V',
  volts: 'V',
  a: 'A',
  amp: 'A',
  amps: 'A',
  ampere: 'A',
  hpa: 'hPa',
  pa: 'Pa',
  kpa: 'kPa',
};

export function canonicalUnit(unit: string | null | undefined): string | null {
  if (unit == null) return null;
  const trimmed = unit.trim();
  if (trimmed === '') return null;
  return UNIT_ALIASES[trimmed.toLowerCase()] ?? trimmed;
}

export const UnitSchema = z
  .string()
  .max(FIELD_LIMITS.unit, { error: `must be at most ${FIELD_LIMITS.unit} characters` })
  .superRefine(storableText);

/** A producer's event id as sent (any string of 1–128 characters; normalised to a UUID by normalizeEventId). */
export const EventIdSchema = z.string().min(1).max(FIELD_LIMITS.eventId).superRefine(storableText);

/** Default units for the metrics the original gateway sends as bare numbers. */
export const DEFAULT_UNITS: Record<string, string> = {
  temperature: 'C',
  humidity: '%',
  pressure: 'hPa',
  voltage: 'V',
  current: 'A',
};
