/**
 * The worker-thread side of the decode pool (decode-pool.ts): Piscina loads this module in each thread with the
 * pool's DecodeOptions as workerData and calls the default export with a chunk of raw tasks.
 */
import { workerData } from 'node:worker_threads';
import { toColumns } from '@telemetryhub/schemas';
import { createTaskDecoder, type DecodeOptions } from './task-decoder.js';
import type { HandedBack } from './handed-back.js';

const decode = createTaskDecoder(workerData as DecodeOptions);

/**
 * Returns the chunk's decoded tasks as one JSON text: the main thread parses it about twice as fast as it would
 * deserialise the same objects posted as they are (structured clone), and every field is plain JSON data. The
 * readings go in columns (a third of the bytes of reading objects: less for this thread to write and for the main
 * thread to parse).
 */
export default function decodeChunk(raws: readonly string[]): string {
  const decoded: HandedBack[] = raws.map((raw) => {
    const d = decode(raw);
    if (d.kind !== 'ok') return d;
    const { readings, ...rest } = d;
    return { ...rest, columns: toColumns(readings).columns };
  });
  return JSON.stringify(decoded);
}
