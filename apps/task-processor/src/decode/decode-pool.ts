import { Piscina } from 'piscina';
import { createTaskDecoder, type DecodeOptions, type DecodedTask } from './task-decoder.js';

/** Decodes fetched tasks (JSON, envelope, events, pseudonyms): in worker threads, or inline with none. */
export interface TaskDecodePool {
  /** Decodes every task, in order. Rejects only if a worker thread itself failed (never on bad input). */
  decode(raws: readonly string[]): Promise<DecodedTask[]>;
  /** Threads in the pool (0: decoding runs on the main thread). */
  readonly threads: number;
  /** Chunks the worker threads have decoded so far (always 0 inline). */
  readonly completedChunks: number;
  close(): Promise<void>;
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
    async decode(raws) {
      if (raws.length === 0) return [];
      const size = Math.ceil(raws.length / threads);
      const chunks: (readonly string[])[] = [];
      for (let i = 0; i < raws.length; i += size) chunks.push(raws.slice(i, i + size));
      // Each chunk comes back as JSON text (see decode.worker.ts).
      const texts = await Promise.all(chunks.map((c) => pool.run(c)));
      return texts.flatMap((text) => JSON.parse(text) as DecodedTask[]);
    },
    close: () => pool.destroy(),
  };
}

function inlineDecoder(opts: DecodeOptions): TaskDecodePool {
  const decode = createTaskDecoder(opts);
  return {
    threads: 0,
    completedChunks: 0,
    decode: async (raws) => raws.map(decode),
    close: async () => {},
  };
}
