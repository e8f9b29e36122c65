import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * The files of a spool directory, in one place for the log that writes them and the inspector that reads them:
 *
 *   segments/<16-digit id>.seg   append-only records, oldest id first
 *   segments/<16-digit id>.idx   {"bytes", "records"} of a sealed segment: lets open skip reading it (a hint,
 *                                used only while `bytes` matches the segment's size)
 *   cursor.json                  {"segment", "offset"}: everything before it is delivered
 *   quarantine/                  damaged bytes, copied out before they are stepped over
 *   LOCK                         pid of the process that has the spool open
 */
export const spoolPaths = (dir: string) => ({
  segments: join(dir, 'segments'),
  cursor: join(dir, 'cursor.json'),
  quarantine: join(dir, 'quarantine'),
  lock: join(dir, 'LOCK'),
});

export interface SpoolPosition {
  segment: number;
  offset: number;
}

const segmentStem = (id: number) => String(id).padStart(16, '0');
export const segmentFileName = (id: number) => `${segmentStem(id)}.seg`;

export const segmentPath = (dir: string, id: number) => join(spoolPaths(dir).segments, segmentFileName(id));

/** What a sealed segment holds, written when the log moves on to the next segment. */
export interface SegmentIndex {
  bytes: number;
  records: number;
}

export const segmentIndexPath = (dir: string, id: number) => join(spoolPaths(dir).segments, `${segmentStem(id)}.idx`);

/** The index of a sealed segment, or undefined when it has none (or an unreadable one). */
export async function readSegmentIndex(dir: string, id: number): Promise<SegmentIndex | undefined> {
  try {
    const raw = JSON.parse(await readFile(segmentIndexPath(dir, id), 'utf8')) as Partial<SegmentIndex>;
    if (Number.isSafeInteger(raw.bytes) && Number.isSafeInteger(raw.records) && raw.records! >= 0) {
      return { bytes: raw.bytes!, records: raw.records! };
    }
  } catch {
    // missing or unreadable: the segment is read instead
  }
  return undefined;
}

/** No fsync: an index lost in a crash only means the next open reads its segment. */
export async function writeSegmentIndex(dir: string, id: number, index: SegmentIndex): Promise<void> {
  await writeFile(segmentIndexPath(dir, id), JSON.stringify(index));
}

/** Ids of the segment files present, oldest first. */
export async function listSegmentIds(dir: string): Promise<number[]> {
  return (await readdir(spoolPaths(dir).segments))
    .filter((n) => /^\d{16}\.seg$/.test(n))
    .map((n) => Number(n.slice(0, 16)))
    .sort((a, b) => a - b);
}

/**
 * The delivered-up-to position of a spool directory, or undefined when there is none yet — or when it is damaged:
 * then replay starts over from the oldest segment (records may be delivered twice, never lost).
 */
export async function readSpoolCursor(dir: string): Promise<SpoolPosition | undefined> {
  try {
    const raw = JSON.parse(await readFile(spoolPaths(dir).cursor, 'utf8')) as Partial<SpoolPosition>;
    if (Number.isSafeInteger(raw.segment) && Number.isSafeInteger(raw.offset) && raw.offset! >= 0) {
      return { segment: raw.segment!, offset: raw.offset! };
    }
  } catch {
    // missing or unreadable: as if there were none
  }
  return undefined;
}

/** Pid in the LOCK file, or null when there is none. */
export async function readSpoolLock(dir: string): Promise<number | null> {
  return readFile(spoolPaths(dir).lock, 'utf8')
    .then((s) => Number(s) || null)
    .catch(() => null);
}
