/**
 * The worker-thread side of the decode pool (decode-pool.ts): Piscina loads this module in each thread with the
 * pool's DecodeOptions as workerData and calls the default export with a chunk of raw tasks.
 */
import { workerData } from 'node:worker_threads';
import { createTaskDecoder, type DecodeOptions, type DecodedTask } from './task-decoder.js';

const decode = createTaskDecoder(workerData as DecodeOptions);

/**
 * Returns the chunk's decoded tasks as one JSON text: the main thread parses it about twice as fast as it would
 * deserialise the same objects posted as they are (structured clone), and every field is plain JSON data.
 */
export default function decodeChunk(raws: readonly string[]): string {
  const decoded: DecodedTask[] = raws.map(decode);
  return JSON.stringify(decoded);
}
