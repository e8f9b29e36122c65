/**
 * The worker-thread side of the decode pool (decode-pool.ts): Piscina loads this module in each thread with the
 * pool's DecodeOptions as workerData and calls the default export with a chunk of raw tasks.
 */
import { workerData } from 'node:worker_threads';
import { createTaskDecoder, type DecodeOptions, type DecodedTask } from './task-decoder.js';

const decode = createTaskDecoder(workerData as DecodeOptions);

export default function decodeChunk(raws: readonly string[]): DecodedTask[] {
  return raws.map(decode);
}
