import { availableParallelism } from 'node:os';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Piscina } from 'piscina';
import { rawText, type RawTask } from '@telemetryhub/queue';
import { createTaskDecoder, type DecodeOptions, type DecodedTask } from './task-decoder.js';
import { fromHandedBack, type HandedBack } from './handed-back.js';
import { DevicePseudonymizer } from '../privacy/device-pseudonymizer.js';

/** Decodes fetched tasks (JSON, envelope, events, pseudonyms): in worker threads, or inline with none. */
export interface TaskDecodePool {
  /** Decodes every task, in order. Rejects only if a worker thread itself failed (never on bad input). */
  decode(raws: readonly RawTask[]): Promise<DecodedTask[]>;
  /** Threads in the pool (0: decoding runs on the main thread). */
  readonly threads: number;
  /** Chunks the worker threads have decoded so far (always 0 inline). */
  readonly completedChunks: number;
  /**
   * A device id as a log line may name it: as sent, or its pseudonym when decoding pseudonymises (a log line
   * never holds an id that storage does not).
   */
  loggedDeviceId(id: string): string;
  close(): Promise<void>;
}

/** loggedDeviceId for these options. */
function deviceIdForLogs(opts: DecodeOptions): (id: string) => string {
  const pseudonymizer = opts.deviceIdHmacKey ? new DevicePseudonymizer(opts.deviceIdHmacKey) : undefined;
  return pseudonymizer ? (id) => pseudonymizer.deviceId(id) : (id) => id;
}

/**
 * Decode threads when none are configured: none up to two cores, else one per core. On two cores the threads
 * compete with PostgreSQL and the main thread for the same cores and add work of their own — each chunk crosses
 * back as JSON, each thread has its own heap (≈ 75 MiB) and collector — so decoding on the main thread measured
 * less CPU per event, lower latency and less memory (docs/benchmarks.md, "The processor alone").
 */
export function defaultDecodeThreads(cores = availableParallelism()): number {
  return cores <= 2 ? 0 : cores;
}

/**
 * A pool of `threads` worker threads (Piscina) that decode fetched tasks, so that parsing and validating tens of
 * thousands of events a second neither blocks the event loop that talks to Redis and PostgreSQL nor is limited to
 * one core. A batch is split into one chunk per thread. `threads: 0` decodes on the main thread (no pool).
 */
export function createDecodePool(opts: DecodeOptions & { threads: number }): TaskDecodePool {
  const { threads, ...decodeOptions } = opts;
  if (threads <= 0) return inlineDecoder(decodeOptions);
  // Under tsx (development, tests) this module is .ts and so is its worker; built, both are .js.
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  const pool = new Piscina<readonly string[], string>({
    filename: new URL(`./decode.worker${ext}`, import.meta.url).href,
    workerData: decodeOptions,
    minThreads: threads,
    maxThreads: threads,
    idleTimeout: 60_000,
  });
  return {
    threads,
    get completedChunks() {
      return pool.completed;
    },
    loggedDeviceId: deviceIdForLogs(decodeOptions),
    async decode(raws) {
      if (raws.length === 0) return [];
      const size = Math.ceil(raws.length / threads);
      const chunks: (readonly string[])[] = [];
      // Sent as text: a Buffer would arrive in the thread as a plain Uint8Array, and either form is copied.
      for (let i = 0; i < raws.length; i += size) chunks.push(raws.slice(i, i + size).map(rawText));
      // Each chunk comes back as JSON text (see decode.worker.ts).
      const texts = await Promise.all(chunks.map((c) => pool.run(c)));
      return texts.flatMap((text) => (JSON.parse(text) as HandedBack[]).map(fromHandedBack));
    },
    close: () => pool.destroy(),
  };
}

/**
 * Tasks decoded on the main thread between two turns of its event loop: a fetch of 100 tasks of 500 readings is
 * about 250 ms of decoding, which would hold up every other consumer loop's Redis and PostgreSQL replies (and the
 * health and metrics endpoints) that long; a slice of 8 is about 20 ms.
 */
const INLINE_SLICE_TASKS = 8;

function inlineDecoder(opts: DecodeOptions): TaskDecodePool {
  const decode = createTaskDecoder(opts);
  return {
    threads: 0,
    completedChunks: 0,
    loggedDeviceId: deviceIdForLogs(opts),
    async decode(raws) {
      const out: DecodedTask[] = [];
      for (let i = 0; i < raws.length; i++) {
        if (i > 0 && i % INLINE_SLICE_TASKS === 0) await nextTurn();
        out.push(decode(raws[i]!));
      }
      return out;
    },
    close: async () => {},
  };
}
