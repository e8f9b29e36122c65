import { z } from 'zod';
import { v5 as uuidv5 } from 'uuid';
import { ValidationError, formatPath } from '@telemetryhub/service-kit';
import { InstantSchema } from './primitives.js';
import { TELEMETRYHUB_NAMESPACE } from './event-id.js';

export const TaskTypes = {
  ANALYZE: 'telemetry.analyze',
  STORE: 'telemetry.store',
  ALERT: 'telemetry.alert',
  ANOMALY_DETECT: 'telemetry.anomaly_detect',
  AGGREGATE: 'telemetry.aggregate',
} as const;

export const PRIORITY_DEFAULT = 50;
/** Tasks at or above this priority are urgent: the queue's fast lane, the spool's reserved room. */
export const PRIORITY_URGENT_MIN = 80;
/** The named priorities of the original design, on our 0–100 scale. */
export const NAMED_PRIORITIES: Record<string, number> = {
  CRITICAL: 100,
  URGENT: 100,
  HIGH: 90,
  NORMAL: 50,
  MEDIUM: 50,
  LOW: 10,
};
/** The original's numeric enum: 0 = HIGH, 1 = NORMAL, 2 = LOW. */
const LEGACY_ENUM_PRIORITIES = [NAMED_PRIORITIES.HIGH, NAMED_PRIORITIES.NORMAL, NAMED_PRIORITIES.LOW] as const;

/**
 * Priority in every documented form, normalised to 0–100 (higher is more urgent):
 * - "HIGH" / "NORMAL" / "MEDIUM" / "LOW" (any case),
 * - 0, 1, 2: the original's enum (0 = HIGH, 1 = NORMAL, 2 = LOW),
 * - 3–100: already on our scale.
 * The overlap is resolved in favour of the original enum: send 0–2 as a name if you mean the 0–100 scale.
 */
export const PrioritySchema = z.union([z.number(), z.string()]).transform((p, ctx) => {
  if (typeof p === 'string') {
    const named = NAMED_PRIORITIES[p.trim().toUpperCase()];
    if (named !== undefined) return named;
    ctx.addIssue({ code: 'custom', message: `must be 0–100 or one of ${Object.keys(NAMED_PRIORITIES).join(', ')}` });
    return z.NEVER;
  }
  if (!Number.isInteger(p) || p < 0 || p > 100) {
    ctx.addIssue({ code: 'custom', message: 'must be an integer from 0 to 100' });
    return z.NEVER;
  }
  return p <= 2 ? LEGACY_ENUM_PRIORITIES[p]! : p;
});

/** `payload` as an object/array, or as a string holding JSON (the original's shape B). */
const PayloadSchema = z.unknown().transform((p, ctx) => {
  if (typeof p !== 'string') return p;
  try {
    return JSON.parse(p) as unknown;
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `is a string but not valid JSON (${(err as Error).message})` });
    return z.NEVER;
  }
});

const RawEnvelopeSchema = z.object({
  id: z.string().trim().min(1).max(128).optional(),
  type: z.string({ error: 'is required: the task type, e.g. telemetry.analyze' }).trim().min(1).max(128),
  priority: PrioritySchema.optional(),
  created_at: InstantSchema.optional(),
  attempts: z.number().int().nonnegative().optional(),
  retry_count: z.number().int().nonnegative().optional(),
  max_attempts: z.number().int().positive().max(1000).optional(),
  max_retries: z.number().int().positive().max(1000).optional(),
  payload: PayloadSchema.refine((p) => p !== undefined && p !== null, { error: 'is required' }),
  traceparent: z.unknown().optional(),
  tracestate: z.unknown().optional(),
});

/** A W3C `traceparent` (version 00): version, trace id, parent span id, flags; all-zero ids are invalid. */
const TRACEPARENT = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;

/**
 * The trace context a producer sent, if it is well-formed. A malformed one is dropped, never a reason to refuse the
 * task: W3C Trace Context says to restart the trace instead, and tracing must not cost a reading.
 */
function traceContextOf(e: { traceparent?: unknown; tracestate?: unknown }): TraceContext | undefined {
  if (typeof e.traceparent !== 'string' || !TRACEPARENT.test(e.traceparent)) return undefined;
  const ctx: TraceContext = { traceparent: e.traceparent };
  if (typeof e.tracestate === 'string' && e.tracestate.length <= 512) ctx.tracestate = e.tracestate;
  return ctx;
}

/** W3C Trace Context of the span that published a task (https://www.w3.org/TR/trace-context/). */
export interface TraceContext {
  traceparent: string;
  tracestate?: string;
}

/** A task as the processor sees it: one normalised form, whatever shape the producer used. */
export interface TaskEnvelope {
  id: string;
  type: string;
  /** 0–100, higher is more urgent. */
  priority: number;
  created_at: string;
  /** Attempts already made (0 for a fresh task). */
  attempts: number;
  /** Per-task override of the queue's max attempts. */
  max_attempts?: number;
  /** W3C Trace Context of the span that published the task, when the producer traces. */
  traceparent?: string;
  tracestate?: string;
  payload: unknown;
}

/**
 * Validates and normalises an envelope object. `retry_count` / `max_retries` (the original's names) are read as
 * `attempts` / `max_attempts`. A missing `id` is derived from the payload (deterministic, so a resend of the same
 * task is recognised); a missing `created_at` is now.
 */
export function normalizeEnvelope(input: unknown, now: () => Date = () => new Date()): TaskEnvelope {
  const r = RawEnvelopeSchema.safeParse(input);
  if (!r.success) {
    throw new ValidationError(r.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })));
  }
  const e = r.data;
  const env: TaskEnvelope = {
    id: e.id ?? uuidv5(`task\u0000${e.type}\u0000${JSON.stringify(e.payload)}`, TELEMETRYHUB_NAMESPACE),
    type: e.type,
    priority: e.priority ?? PRIORITY_DEFAULT,
    created_at: e.created_at ?? now().toISOString(),
    attempts: e.attempts ?? e.retry_count ?? 0,
    payload: e.payload,
  };
  const max = e.max_attempts ?? e.max_retries;
  if (max !== undefined) env.max_attempts = max;
  const trace = traceContextOf(e);
  if (trace) Object.assign(env, trace);
  return env;
}

/** Parses the raw bytes of a task as taken from the queue. Throws ValidationError (never retryable). */
export function parseTaskEnvelope(raw: string, now?: () => Date): TaskEnvelope {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    throw new ValidationError([{ path: '', message: `task is not valid JSON (${(err as Error).message})` }]);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ValidationError([{ path: '', message: 'task must be a JSON object' }]);
  }
  return normalizeEnvelope(json, now);
}
