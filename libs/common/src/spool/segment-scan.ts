import { decodeRecord, findNextRecord, type SpoolRecord } from './spool-record.js';

export interface DamagedRange {
  offset: number;
  length: number;
  reason: 'magic' | 'length' | 'checksum' | 'torn';
}

export interface SegmentScan {
  records: number;
  /** Bytes of valid records. */
  recordBytes: number;
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
  onRecord?: (record: SpoolRecord, offset: number, end: number) => void,
): SegmentScan {
  const scan: SegmentScan = { records: 0, recordBytes: 0, validEnd: from, damage: [] };
  let at = from;
  while (at < buf.length) {
    const r = decodeRecord(buf, at);
    if (r.kind === 'record') {
      onRecord?.(r.record, at, r.end);
      scan.records += 1;
      scan.recordBytes += r.end - at;
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
