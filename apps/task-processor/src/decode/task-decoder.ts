import {
  TaskTypes,
  jsonTextHasNoNul,
  parseEvents,
  parseTaskEnvelope,
  summarizeIssues,
  type Reading,
  type TaskEnvelope,
} from '@telemetryhub/common';
import { DevicePseudonymizer } from '../privacy/device-pseudonymizer.js';
import { batchStatistics, type MetricStatistics } from '../handlers/batch-statistics.js';

/** What decoding needs to know; plain data, so that it can be handed to a worker thread. */
export interface DecodeOptions {
  /** Clock-skew guard (ms): a task carrying an event further in the future is invalid. */
  maxFutureSkewMs?: number;
  /** With a key, every reading's device and event id are pseudonymised as the task is decoded. */
  deviceIdHmacKey?: string;
}

/** A task's envelope without its payload (which decoding turned into readings). */
export type TaskHeader = Omit<TaskEnvelope, 'payload'>;

/** One task decoded: readings ready to store, or why it can never be stored. */
export type DecodedTask =
  | { kind: 'ok'; header: TaskHeader; readings: Reading[]; statistics?: MetricStatistics[] }
  | { kind: 'invalid_envelope'; message: string }
  | { kind: 'invalid_payload'; header: TaskHeader; message: string };

/**
 * The CPU part of running a task: parse the JSON, validate and normalise the envelope, validate and upcast every
 * event of the payload (v1 and v2 shapes alike), pseudonymise device ids, and for `telemetry.analyze` compute
 * the batch's per-metric statistics. Pure and synchronous; never throws on input. Runs in the worker-thread pool
 * (decode-pool.ts) or, with no pool, inline.
 */
export function createTaskDecoder(opts: DecodeOptions = {}): (raw: string) => DecodedTask {
  const pseudonymizer = opts.deviceIdHmacKey ? new DevicePseudonymizer(opts.deviceIdHmacKey) : undefined;
  const skew = opts.maxFutureSkewMs === undefined ? {} : { maxFutureSkewMs: opts.maxFutureSkewMs };
  return (raw) => {
    let envelope: TaskEnvelope;
    try {
      envelope = parseTaskEnvelope(raw);
    } catch (err) {
      return { kind: 'invalid_envelope', message: (err as Error).message };
    }
    const { payload, ...header } = envelope;
    const events = parseEvents(payload, 'payload', { ...skew, textHasNoNul: jsonTextHasNoNul(raw) });
    if (events.issues.length) return { kind: 'invalid_payload', header, message: summarizeIssues(events.issues) };
    const readings = pseudonymizer ? events.readings.map((r) => pseudonymizer.reading(r)) : events.readings;
    if (header.type !== TaskTypes.ANALYZE) return { kind: 'ok', header, readings };
    return { kind: 'ok', header, readings, statistics: batchStatistics(readings) };
  };
}
