import { summarizeIssues } from '@telemetryhub/service-kit';
import {
  TaskTypes,
  jsonTextHasNoNul,
  parseEvents,
  parseTaskEnvelope,
  type Reading,
  type TaskEnvelope,
} from '@telemetryhub/schemas';
import { rawText, type RawTask } from '@telemetryhub/queue';
import { DevicePseudonymizer } from '../privacy/device-pseudonymizer.js';
import type { MetricStatistics, TaskHeader } from '../domain/task.js';
import { batchStatistics } from '../stats/batch-statistics.js';

/** What decoding needs to know; plain data, so that it can be handed to a worker thread. */
export interface DecodeOptions {
  /** Clock-skew guard (ms): a task carrying an event further in the future is invalid. */
  maxFutureSkewMs?: number;
  /** With a key, every reading's device and event id are pseudonymised as the task is decoded. */
  deviceIdHmacKey?: string;
}

/** An event of a task's payload that cannot be stored (by its index in the payload), and why. */
export interface RejectedEvent {
  index: number;
  message: string;
}

/**
 * One task decoded: readings ready to store (and the events refused beside them, which go to the DLQ alone), or
 * why none of it can ever be stored.
 */
export type DecodedTask =
  | {
      kind: 'ok';
      header: TaskHeader;
      readings: Reading[];
      statistics?: MetricStatistics[];
      /** Events in the payload. */
      events: number;
      /** Events refused while others passed: each is dead-lettered alone once the good readings are stored. */
      rejected?: RejectedEvent[];
      /**
       * The payload index of the event each reading came from, when that is not simply the reading's own index
       * (a gateway sample gives several readings; a refused event leaves a gap).
       */
      sources?: number[];
    }
  | { kind: 'invalid_envelope'; message: string }
  | { kind: 'invalid_payload'; header: TaskHeader; message: string };

/**
 * The CPU part of running a task: parse the JSON, validate and normalise the envelope, validate and upcast every
 * event of the payload (v1 and v2 shapes alike), pseudonymise device ids, and for `telemetry.analyze` compute
 * the batch's per-metric statistics (of the readings that passed). Pure and synchronous; never throws on input.
 * Runs in the worker-thread pool (decode-pool.ts) or, with no pool, inline.
 */
export function createTaskDecoder(opts: DecodeOptions = {}): (raw: RawTask) => DecodedTask {
  const pseudonymizer = opts.deviceIdHmacKey ? new DevicePseudonymizer(opts.deviceIdHmacKey) : undefined;
  const skew = opts.maxFutureSkewMs === undefined ? {} : { maxFutureSkewMs: opts.maxFutureSkewMs };
  return (task) => {
    // As text only while it is decoded: the task in hand stays a Buffer (RawTask says why).
    const raw = rawText(task);
    let envelope: TaskEnvelope;
    try {
      envelope = parseTaskEnvelope(raw);
    } catch (err) {
      return { kind: 'invalid_envelope', message: (err as Error).message };
    }
    const { payload, ...header } = envelope;
    const parsed = parseEvents(payload, 'payload', { ...skew, textHasNoNul: jsonTextHasNoNul(raw), withSources: true });
    // Nothing storable (the payload itself is wrong, or every event is): the task as a whole is invalid.
    if (parsed.readings.length === 0) {
      return { kind: 'invalid_payload', header, message: summarizeIssues(parsed.issues) };
    }
    const readings = pseudonymizer ? parsed.readings.map((r) => pseudonymizer.reading(r)) : parsed.readings;
    const decoded: DecodedTask = { kind: 'ok', header, readings, events: parsed.events };
    if (parsed.rejected.length) {
      decoded.rejected = parsed.rejected.map((index, i) => ({
        index,
        message: summarizeIssues(parsed.rejectedIssues[i]!),
      }));
    }
    // Every event gives at least one reading: as many readings as events, none refused, is one reading per event.
    if (parsed.rejected.length || readings.length !== parsed.events) decoded.sources = parsed.sources!;
    if (header.type === TaskTypes.ANALYZE) decoded.statistics = batchStatistics(readings);
    return decoded;
  };
}
