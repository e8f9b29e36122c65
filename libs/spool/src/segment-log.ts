import { mkdir, open, readFile, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError, ErrorCodes } from '@telemetryhub/service-kit';
import { decodeRecord, encodeRecord, findNextRecord, type SpoolRecord } from './spool-record.js';
import { scanSegment } from './segment-scan.js';
import {
  listSegmentIds,
  readSegmentIndex,
  readSpoolCursor,
  readSpoolLock,
  segmentFileName,
  segmentIndexPath,
  segmentPath,
  spoolPaths,
  writeSegmentIndex,
  type SpoolPosition,
} from './spool-layout.js';

export interface SegmentLogOptions {
  dir: string;
  /** A segment is closed and a new one started past this size. Default 8 MiB. */
  segmentBytes?: number;
  /** fdatasync after every append (default true). Off only for tests and benchmarks that measure without it. */
  fsync?: boolean;
}

/** Records read from the log; `commit(batch)` marks them delivered. */
export interface SpoolBatch {
  records: SpoolRecord[];
  /** Position just past each record, so that a prefix of the batch can be committed. */
  ends: SpoolPosition[];
  bytes: number;
  next: SpoolPosition;
}

export interface OpenReport {
  /** Bytes cut from the end of the last segment: a write torn by a crash or power cut. */
  tornBytes: number;
}

export class SpoolLockedError extends AppError {
  constructor(dir: string, pid: number) {
    super(ErrorCodes.INVALID_STATE, `spool ${dir} is in use by process ${pid}`);
  }
}

const READ_CHUNK = 1024 * 1024;

/**
 * A durable FIFO of records on local disk: append-only segment files plus a cursor file that marks what has been
 * delivered. Appends are one write + fdatasync; reads start at the cursor and never move it, so a failed delivery
 * is simply read again; `commit` moves the cursor (write + rename) and deletes delivered segments. On open, a torn
 * tail (crash mid-write) is cut off; damage in the middle is quarantined (copied to `quarantine/`) and stepped
 * over on read, never blocking the records after it. One process at a time (a LOCK file holds its pid).
 * A sealed segment gets a small index (its size and record count), so that opening a large spool reads only the
 * segment the cursor is in and the last one, not every byte on disk.
 */
export class SegmentLog {
  private readonly sizes = new Map<number, number>();
  /** Records in each live segment, delivered or not (for the index written when it is sealed). */
  private readonly records = new Map<number, number>();
  private writer!: FileHandle;
  /** The segment being read, kept open across reads. */
  private reader: { segment: number; fh: FileHandle } | undefined;
  private writeSegment = 0;
  private cursor: SpoolPosition = { segment: 1, offset: 0 };
  private pending = 0;
  /** Damaged ranges copied to quarantine since open (each once, however often it is read). */
  private readonly quarantined = new Set<string>();
  private readonly segmentBytes: number;
  private readonly fsync: boolean;

  private constructor(private readonly opts: SegmentLogOptions) {
    this.segmentBytes = opts.segmentBytes ?? 8 * 1024 * 1024;
    this.fsync = opts.fsync ?? true;
  }

  static async open(opts: SegmentLogOptions): Promise<{ log: SegmentLog; report: OpenReport }> {
    const log = new SegmentLog(opts);
    const report = await log.recover();
    return { log, report };
  }

  get dir(): string {
    return this.opts.dir;
  }

  /** Records not yet delivered. */
  get pendingRecords(): number {
    return this.pending;
  }

  /** Bytes on disk not yet delivered. */
  get pendingBytes(): number {
    let total = 0;
    for (const [id, size] of this.sizes) if (id >= this.cursor.segment) total += size;
    return total - this.cursor.offset;
  }

  get isEmpty(): boolean {
    return this.pendingBytes === 0;
  }

  /** Damaged records (torn tail or checksum failure) quarantined and stepped over since open. */
  get quarantinedRecords(): number {
    return this.quarantined.size;
  }

  /** Appends records in order, durably (one write and one fdatasync for the lot). */
  async append(records: ReadonlyArray<SpoolRecord>): Promise<number> {
    if (records.length === 0) return 0;
    if (this.sizes.get(this.writeSegment)! >= this.segmentBytes) await this.roll();
    const bytes = Buffer.concat(records.map(encodeRecord));
    await this.writer.write(bytes);
    if (this.fsync) await this.writer.datasync();
    this.sizes.set(this.writeSegment, this.sizes.get(this.writeSegment)! + bytes.length);
    this.records.set(this.writeSegment, (this.records.get(this.writeSegment) ?? 0) + records.length);
    this.pending += records.length;
    return bytes.length;
  }

  /** Reads undelivered records from the cursor, oldest first, up to the limits (at least one record). */
  async read(maxRecords: number, maxBytes = 16 * 1024 * 1024): Promise<SpoolBatch> {
    const batch: SpoolBatch = { records: [], ends: [], bytes: 0, next: { ...this.cursor } };
    let { segment, offset } = this.cursor;
    let need = 0;
    while (batch.records.length < maxRecords && (batch.bytes < maxBytes || batch.records.length === 0)) {
      const size = this.sizes.get(segment) ?? 0;
      if (offset >= size) {
        const after = this.segmentAfter(segment);
        if (after === undefined) break;
        segment = after;
        offset = 0;
        continue;
      }
      const chunk = await this.readAt(segment, offset, Math.min(size - offset, Math.max(READ_CHUNK, need)));
      let at = 0;
      while (batch.records.length < maxRecords && (batch.bytes < maxBytes || batch.records.length === 0)) {
        const r = decodeRecord(chunk, at);
        if (r.kind !== 'record') {
          if (at === 0 && r.kind === 'incomplete' && offset + r.needed <= size) need = r.needed;
          else if (at === 0) offset += await this.stepOverDamage(segment, offset, size);
          break;
        }
        batch.records.push(r.record);
        batch.ends.push({ segment, offset: offset + r.end });
        batch.bytes += r.end - at;
        at = r.end;
      }
      if (at > 0) need = 0;
      offset += at;
    }
    batch.next = { segment, offset };
    return batch;
  }

  /**
   * Marks the first `count` records of a batch (default: all) delivered: moves the cursor past them and deletes
   * the segments that emptied.
   */
  async commit(batch: SpoolBatch, count = batch.records.length): Promise<void> {
    if (count <= 0 && batch.records.length > 0) return;
    this.pending = Math.max(0, this.pending - count);
    this.cursor = { ...(count >= batch.records.length ? batch.next : batch.ends[count - 1]!) };
    if (this.cursor.segment === this.writeSegment && this.cursor.offset >= this.sizes.get(this.writeSegment)!) {
      // Everything delivered: start an empty segment so the delivered bytes leave the disk too.
      await this.roll({ index: false });
      this.cursor = { segment: this.writeSegment, offset: 0 };
      this.pending = 0;
    }
    await this.writeCursor();
    if (this.reader && this.reader.segment < this.cursor.segment) await this.closeReader();
    for (const id of [...this.sizes.keys()]) {
      if (id >= this.cursor.segment) continue;
      await this.removeSegment(id);
      this.sizes.delete(id);
      this.records.delete(id);
    }
  }

  async close(): Promise<void> {
    await this.closeReader();
    await this.writer?.close().catch(() => undefined);
    await rm(spoolPaths(this.dir).lock, { force: true });
  }

  private async recover(): Promise<OpenReport> {
    const paths = spoolPaths(this.dir);
    await mkdir(paths.segments, { recursive: true });
    await mkdir(paths.quarantine, { recursive: true });
    await this.lock();
    const report: OpenReport = { tornBytes: 0 };
    const ids = await listSegmentIds(this.dir);
    this.cursor = (await readSpoolCursor(this.dir)) ?? { segment: ids[0] ?? 1, offset: 0 };
    for (const id of ids) {
      if (id < this.cursor.segment) {
        await this.removeSegment(id); // delivered before a crash could delete it
      } else {
        this.sizes.set(id, (await stat(this.segmentPath(id))).size);
      }
    }
    const live = [...this.sizes.keys()];
    if (live.length === 0) {
      this.sizes.set(this.cursor.segment, 0);
      this.cursor.offset = 0;
      live.push(this.cursor.segment);
      await writeFile(this.segmentPath(this.cursor.segment), '', { flag: 'a' });
    } else if (!this.sizes.has(this.cursor.segment)) {
      this.cursor = { segment: live[0]!, offset: 0 };
    }
    this.writeSegment = live[live.length - 1]!;
    // Count what is pending, and cut a torn tail off the last segment (only the last one is ever written to). A
    // sealed segment wholly pending is counted from its index when it has one that matches its size.
    for (const id of live) {
      const from = id === this.cursor.segment ? this.cursor.offset : 0;
      if (id !== this.writeSegment && from === 0) {
        const index = await readSegmentIndex(this.dir, id);
        if (index && index.bytes === this.sizes.get(id)) {
          this.records.set(id, index.records);
          this.pending += index.records;
          continue;
        }
      }
      const buf = await readFile(this.segmentPath(id));
      let total = 0;
      const scan = scanSegment(buf, 0, (_record, offset) => {
        total += 1;
        if (offset >= from) this.pending += 1;
      });
      this.records.set(id, total);
      if (id !== this.writeSegment) await writeSegmentIndex(this.dir, id, { bytes: buf.length, records: total });
      if (id === this.writeSegment && scan.validEnd < buf.length) {
        report.tornBytes = buf.length - scan.validEnd;
        await this.quarantine(id, scan.validEnd, buf.subarray(scan.validEnd));
        const fh = await open(this.segmentPath(id), 'r+');
        await fh.truncate(scan.validEnd);
        await fh.close();
        this.sizes.set(id, scan.validEnd);
      }
    }
    if (this.cursor.segment === this.writeSegment) {
      this.cursor.offset = Math.min(this.cursor.offset, this.sizes.get(this.writeSegment)!);
    }
    this.writer = await open(this.segmentPath(this.writeSegment), 'a');
    return report;
  }

  /** Seals the write segment and starts the next; `index: false` for a segment about to be deleted (delivered). */
  private async roll(opts: { index: boolean } = { index: true }): Promise<void> {
    await this.writer.close();
    const sealed = this.writeSegment;
    if (opts.index) {
      await writeSegmentIndex(this.dir, sealed, {
        bytes: this.sizes.get(sealed)!,
        records: this.records.get(sealed) ?? 0,
      });
    }
    this.writeSegment += 1;
    this.writer = await open(this.segmentPath(this.writeSegment), 'a');
    this.sizes.set(this.writeSegment, 0);
    this.records.set(this.writeSegment, 0);
  }

  private async removeSegment(id: number): Promise<void> {
    await rm(this.segmentPath(id), { force: true });
    await rm(segmentIndexPath(this.dir, id), { force: true });
  }

  private segmentAfter(id: number): number | undefined {
    let best: number | undefined;
    for (const k of this.sizes.keys()) if (k > id && (best === undefined || k < best)) best = k;
    return best;
  }

  /** Copies damaged bytes at `offset` to quarantine and returns how many to skip to the next valid record. */
  private async stepOverDamage(segment: number, offset: number, size: number): Promise<number> {
    const rest = await this.readAt(segment, offset, size - offset);
    const next = findNextRecord(rest, 1);
    const length = next === -1 ? rest.length : next;
    await this.quarantine(segment, offset, rest.subarray(0, length));
    return length;
  }

  private async quarantine(segment: number, offset: number, bytes: Buffer): Promise<void> {
    const key = `${segmentFileName(segment)}-${offset}`;
    if (this.quarantined.has(key)) return;
    this.quarantined.add(key);
    await writeFile(join(spoolPaths(this.dir).quarantine, `${key}.bin`), bytes);
  }

  private async readAt(segment: number, offset: number, length: number): Promise<Buffer> {
    if (this.reader?.segment !== segment) {
      await this.closeReader();
      this.reader = { segment, fh: await open(this.segmentPath(segment), 'r') };
    }
    const buf = Buffer.allocUnsafe(length);
    const { bytesRead } = await this.reader.fh.read(buf, 0, length, offset);
    return buf.subarray(0, bytesRead);
  }

  private async closeReader(): Promise<void> {
    const reader = this.reader;
    this.reader = undefined;
    await reader?.fh.close().catch(() => undefined);
  }

  private async writeCursor(): Promise<void> {
    const { cursor } = spoolPaths(this.dir);
    const tmp = `${cursor}.tmp`;
    const fh = await open(tmp, 'w');
    await fh.writeFile(JSON.stringify(this.cursor));
    if (this.fsync) await fh.datasync();
    await fh.close();
    await rename(tmp, cursor);
  }

  private async lock(): Promise<void> {
    const path = spoolPaths(this.dir).lock;
    try {
      await writeFile(path, String(process.pid), { flag: 'wx' });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = await readSpoolLock(this.dir);
    if (holder !== null && holder !== process.pid && isAlive(holder)) throw new SpoolLockedError(this.dir, holder);
    await writeFile(path, String(process.pid));
  }

  private segmentPath(id: number): string {
    return segmentPath(this.dir, id);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
