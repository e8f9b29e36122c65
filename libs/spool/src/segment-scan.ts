import { decodeRecord, findNextRecord, type SpoolRecord } from './spool-record.js';

export interface DamagedRange {
  offset: number;
  length: number;
  reason: 'magic' | 'length' | 'checksum' | 'torn';
}

export interface SegmentScan {
  records: number;
  /** Offset just past the last valid record: everything after it is a torn or damaged tail. */
  validEnd: number;
  damage: DamagedRange[];
}

/**
 * Walks the records of one segment's bytes from `from`, stepping over damage (resynchronising on the next record
 * that checks out). `onRecord` sees every valid record in order.
 */
export function scanSegment(
  buf: Buffer,
  from = 0,
  onRecord?: (record: SpoolRecord, offset: number) => void,
): SegmentScan {
  const scan: SegmentScan = { records: 0, validEnd: from, damage: [] };
  let at = from;
  while (at < buf.length) {
    const r = decodeRecord(buf, at);
    if (r.kind === 'record') {
      onRecord?.(r.record, at);
      scan.records += 1;
      scan.validEnd = r.end;
      at = r.end;
      continue;
    }
    const next = findNextRecord(buf, at + 1);
    const end = next === -1 ? buf.length : next;
    scan.damage.push({ offset: at, length: end - at, reason: r.kind === 'incomplete' ? 'torn' : r.reason });
    at = end;
  }
  return scan;
}
