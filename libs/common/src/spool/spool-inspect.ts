import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { scanSegment, type DamagedRange } from './segment-scan.js';
import { readSpoolCursor } from './segment-log.js';
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
  cursor: { segment: number; offset: number } | null;
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
  const names = (await readdir(join(dir, 'segments'))).filter((n) => /^\d{16}\.seg$/.test(n)).sort();
  const cursor = (await readSpoolCursor(dir)) ?? null;
  const report: SpoolReport = {
    dir,
    cursor,
    segments: [],
    pendingRecords: 0,
    pendingBytes: 0,
    quarantineFiles: (await readdir(join(dir, 'quarantine')).catch(() => [])).length,
    lockedBy: await readFile(join(dir, 'LOCK'), 'utf8')
      .then((s) => Number(s) || null)
      .catch(() => null),
  };
  for (const file of names) {
    const id = Number(file.slice(0, 16));
    const buf = await readFile(join(dir, 'segments', file));
    const from = !cursor || id > cursor.segment ? 0 : id === cursor.segment ? cursor.offset : buf.length;
    let pending = 0;
    const scan = scanSegment(buf, 0, (record, offset) => {
      if (offset < from) return;
      pending += 1;
      onPending?.(record);
    });
    report.segments.push({
      file,
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
