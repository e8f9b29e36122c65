import { readdir, readFile } from 'node:fs/promises';
import { scanSegment, type DamagedRange } from './segment-scan.js';
import {
  listSegmentIds,
  readSpoolCursor,
  readSpoolLock,
  segmentFileName,
  segmentPath,
  spoolPaths,
  type SpoolPosition,
} from './spool-layout.js';
import type { SpoolRecord } from './spool-record.js';

export interface SegmentReport {
  file: string;
  bytes: number;
  records: number;
  /** Records at or after the cursor (not yet delivered). */
  pendingRecords: number;
  damage: DamagedRange[];
}

export interface SpoolReport {
  dir: string;
  cursor: SpoolPosition | null;
  segments: SegmentReport[];
  pendingRecords: number;
  pendingBytes: number;
  quarantineFiles: number;
  /** Pid in the LOCK file, if any (a running hub). */
  lockedBy: number | null;
}

/**
 * Reads a spool directory without changing it (for `telemetryhub spool stats|validate`); `onPending` sees every
 * valid record not yet delivered, oldest first.
 */
export async function inspectSpool(dir: string, onPending?: (record: SpoolRecord) => void): Promise<SpoolReport> {
  const ids = await listSegmentIds(dir);
  const cursor = (await readSpoolCursor(dir)) ?? null;
  const report: SpoolReport = {
    dir,
    cursor,
    segments: [],
    pendingRecords: 0,
    pendingBytes: 0,
    quarantineFiles: (await readdir(spoolPaths(dir).quarantine).catch(() => [])).length,
    lockedBy: await readSpoolLock(dir),
  };
  for (const id of ids) {
    const buf = await readFile(segmentPath(dir, id));
    const from = !cursor || id > cursor.segment ? 0 : id === cursor.segment ? cursor.offset : buf.length;
    let pending = 0;
    const scan = scanSegment(buf, 0, (record, offset) => {
      if (offset < from) return;
      pending += 1;
      onPending?.(record);
    });
    report.segments.push({
      file: segmentFileName(id),
      bytes: buf.length,
      records: scan.records,
      pendingRecords: pending,
      damage: scan.damage,
    });
    report.pendingRecords += pending;
    report.pendingBytes += Math.max(0, buf.length - from);
  }
  return report;
}
