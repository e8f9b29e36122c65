import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { SegmentLog, SpoolLockedError } from './segment-log.js';
import { readSegmentIndex, segmentFileName, segmentIndexPath, segmentPath } from './spool-layout.js';
import { encodeRecord } from './spool-record.js';
import { inspectSpool } from './spool-inspect.js';

const rec = (s: string, priority = 50) => ({ priority, payload: Buffer.from(s) });
const texts = (batch: { records: Array<{ payload: Buffer }> }) => batch.records.map((r) => r.payload.toString());

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'spool-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('records come back oldest first across segments, and a delivered segment leaves the disk', () =>
  withDir(async (dir) => {
    const { log } = await SegmentLog.open({ dir, segmentBytes: 64 });
    for (let i = 0; i < 20; i++) await log.append([rec(`task-${i}`, i)]);
    assert.equal(log.pendingRecords, 20);
    assert.ok((await readdir(join(dir, 'segments'))).length > 3, 'small segments roll');
    const first = await log.read(7);
    assert.deepEqual(
      texts(first),
      Array.from({ length: 7 }, (_, i) => `task-${i}`),
    );
    assert.deepEqual(
      first.records.map((r) => r.priority),
      [0, 1, 2, 3, 4, 5, 6],
    );
    await log.commit(first);
    const segmentsAfter = (await readdir(join(dir, 'segments'))).length;
    const rest = await log.read(100);
    assert.deepEqual(
      texts(rest),
      Array.from({ length: 13 }, (_, i) => `task-${i + 7}`),
    );
    await log.commit(rest);
    assert.equal(log.pendingRecords, 0);
    assert.equal(log.pendingBytes, 0);
    assert.ok(log.isEmpty);
    const left = await readdir(join(dir, 'segments'));
    assert.ok(left.length < segmentsAfter && left.length === 1, `one empty segment is left, got ${left.join(',')}`);
    await log.close();
  }));

test('a read that is not committed is read again (a failed delivery loses nothing)', () =>
  withDir(async (dir) => {
    const { log } = await SegmentLog.open({ dir });
    await log.append([rec('a'), rec('b'), rec('c')]);
    assert.deepEqual(texts(await log.read(2)), ['a', 'b']);
    assert.deepEqual(texts(await log.read(2)), ['a', 'b']);
    await log.commit(await log.read(1));
    assert.deepEqual(texts(await log.read(10)), ['b', 'c']);
    await log.commit(await log.read(10), 1); // only a prefix went out
    assert.deepEqual(texts(await log.read(10)), ['c']);
    assert.equal(log.pendingRecords, 1);
    await log.close();
  }));

test('reopening resumes at the cursor: delivered records are not replayed', () =>
  withDir(async (dir) => {
    const first = await SegmentLog.open({ dir, segmentBytes: 40 });
    await first.log.append([rec('one'), rec('two'), rec('three'), rec('four')]);
    await first.log.commit(await first.log.read(2));
    await first.log.close();
    const { log } = await SegmentLog.open({ dir, segmentBytes: 40 });
    assert.equal(log.pendingRecords, 2);
    assert.deepEqual(texts(await log.read(10)), ['three', 'four']);
    await log.close();
  }));

test('a torn last record (a crash mid-write) is cut off on open; the records before it survive', () =>
  withDir(async (dir) => {
    const first = await SegmentLog.open({ dir });
    await first.log.append([rec('kept-1'), rec('kept-2')]);
    await first.log.close();
    const torn = encodeRecord(rec('this write never finished'));
    await appendFile(join(dir, 'segments', segmentFileName(1)), torn.subarray(0, torn.length - 5));
    const { log, report } = await SegmentLog.open({ dir });
    assert.equal(report.tornBytes, torn.length - 5);
    assert.equal(log.pendingRecords, 2);
    await log.append([rec('after')]);
    assert.deepEqual(texts(await log.read(10)), ['kept-1', 'kept-2', 'after']);
    assert.equal((await readdir(join(dir, 'quarantine'))).length, 1, 'the torn bytes are kept for inspection');
    await log.close();
  }));

test('a damaged record in the middle is quarantined and counted, and the records after it still arrive', () =>
  withDir(async (dir) => {
    const { log } = await SegmentLog.open({ dir });
    await log.append([rec('before'), rec('damaged-record'), rec('after-1'), rec('after-2')]);
    const path = join(dir, 'segments', segmentFileName(1));
    const bytes = await readFile(path);
    const at = bytes.indexOf('damaged-record');
    bytes[at + 3] = bytes[at + 3]! ^ 0xff; // a flipped bit on disk
    await writeFile(path, bytes);
    const batch = await log.read(10);
    assert.deepEqual(texts(batch), ['before', 'after-1', 'after-2']);
    assert.equal(log.quarantinedRecords, 1);
    await log.read(10); // reading again does not count it again
    assert.equal(log.quarantinedRecords, 1);
    const report = await inspectSpool(dir);
    assert.equal(report.segments[0]!.damage.length, 1);
    assert.equal(report.segments[0]!.damage[0]!.reason, 'checksum');
    await log.commit(batch);
    assert.ok(log.isEmpty);
    await log.close();
  }));

test('a spool held by another live process cannot be opened', () =>
  withDir(async (dir) => {
    const { log } = await SegmentLog.open({ dir });
    await log.close();
    await writeFile(join(dir, 'LOCK'), String(process.ppid));
    await assert.rejects(SegmentLog.open({ dir }), SpoolLockedError);
    await writeFile(join(dir, 'LOCK'), '999999999'); // a pid that is not running: a stale lock is taken over
    const again = await SegmentLog.open({ dir });
    await again.log.close();
  }));

test('open counts sealed segments from their indexes, and reads one whose index is missing or stale', () =>
  withDir(async (dir) => {
    const first = await SegmentLog.open({ dir, segmentBytes: 64 });
    for (let i = 0; i < 20; i++) await first.log.append([rec(`task-${i}`)]);
    await first.log.close();
    const ids = (await readdir(join(dir, 'segments')))
      .filter((n) => n.endsWith('.seg'))
      .map((n) => Number(n.slice(0, 16)));
    assert.ok(ids.length >= 5, 'small segments roll');
    const sealed = ids.slice(0, -1);
    let indexed = 0;
    for (const id of sealed) {
      const index = await readSegmentIndex(dir, id);
      assert.equal(index?.bytes, (await readFile(segmentPath(dir, id))).length, `index of segment ${id}`);
      indexed += index!.records;
    }
    assert.ok(indexed > 0 && indexed < 20);

    // Damage inside a sealed segment, size unchanged: open trusts its index (it does not read the segment), and
    // the damage is found and quarantined when replay reaches it.
    const damaged = sealed[1]!;
    const bytes = await readFile(segmentPath(dir, damaged));
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    await writeFile(segmentPath(dir, damaged), bytes);
    await rm(segmentIndexPath(dir, sealed[2]!)); // missing: read
    await writeFile(segmentIndexPath(dir, sealed[3]!), JSON.stringify({ bytes: 1, records: 99 })); // stale: read
    const { log } = await SegmentLog.open({ dir, segmentBytes: 64 });
    assert.equal(log.pendingRecords, 20);
    assert.ok(await readSegmentIndex(dir, sealed[2]!), 'a missing index is written on open');
    assert.notEqual((await readSegmentIndex(dir, sealed[3]!))?.records, 99, 'a stale index is written anew');
    const got: string[] = [];
    for (;;) {
      const batch = await log.read(100);
      if (batch.records.length === 0) break;
      got.push(...texts(batch));
      await log.commit(batch);
    }
    assert.equal(got.length, 19, 'every record but the damaged one');
    assert.equal(log.quarantinedRecords, 1);
    const left = await readdir(join(dir, 'segments'));
    assert.deepEqual(
      left.filter((n) => n.endsWith('.idx')),
      [],
      'indexes leave the disk with their segments',
    );
    await log.close();
  }));

test('property: whatever the mix of appends, reads, commits and reopens, every record is delivered once, in order', async () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('append' as const), n: fc.integer({ min: 1, max: 5 }), size: fc.nat(60) }),
    fc.record({ kind: fc.constant('deliver' as const), n: fc.integer({ min: 1, max: 8 }), ok: fc.boolean() }),
    fc.record({ kind: fc.constant('reopen' as const) }),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(op, { maxLength: 40 }), async (ops) =>
      withDir(async (dir) => {
        let { log } = await SegmentLog.open({ dir, segmentBytes: 100, fsync: false });
        const appended: string[] = [];
        const delivered: string[] = [];
        for (const o of ops) {
          if (o.kind === 'append') {
            const batch = Array.from({ length: o.n }, (_, i) => `${appended.length + i}:${'x'.repeat(o.size)}`);
            await log.append(batch.map((s) => rec(s)));
            appended.push(...batch);
          } else if (o.kind === 'deliver') {
            const batch = await log.read(o.n);
            if (o.ok) {
              delivered.push(...texts(batch));
              await log.commit(batch);
            }
          } else {
            await log.close();
            ({ log } = await SegmentLog.open({ dir, segmentBytes: 100, fsync: false }));
          }
          assert.equal(log.pendingRecords, appended.length - delivered.length);
        }
        for (;;) {
          const batch = await log.read(1000);
          if (batch.records.length === 0) break;
          delivered.push(...texts(batch));
          await log.commit(batch);
        }
        await log.close();
        assert.deepEqual(delivered, appended);
      }),
    ),
    { numRuns: 60 },
  );
});
