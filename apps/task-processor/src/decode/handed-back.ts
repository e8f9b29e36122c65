import { readingsFromColumns, type ReadingColumns } from '@telemetryhub/schemas';
import type { DecodedTask } from './task-decoder.js';

type Decoded = Extract<DecodedTask, { kind: 'ok' }>;

/** A decoded task as a decode thread hands it to the main thread: its readings in columns. */
export type HandedBack = Exclude<DecodedTask, Decoded> | (Omit<Decoded, 'readings'> & { columns: ReadingColumns });

/** The decoded task again, its readings as objects. */
export function fromHandedBack(h: HandedBack): DecodedTask {
  if (h.kind !== 'ok') return h;
  const { columns, ...rest } = h;
  return { ...rest, readings: readingsFromColumns(columns) };
}
