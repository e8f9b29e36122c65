/**
 * Spool benchmark: the hub's disk spool after a long outage. Fills a spool with `--gib` of task-sized records
 * (fsync off: the fill is not what is measured), then times opening it (what a restarted hub waits for before it
 * serves) and replaying it (read + commit, as the hub does once Redis is back), each against a reference measured
 * in the same run on the same files: reading every segment file once, sequentially (the disk's own pace for
 * those bytes). Usage: npm run bench:spool -- [--gib G (1)] [--json]
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { SegmentLog, listSegmentIds, segmentPath } from '@telemetryhub/spool';

const { values } = parseArgs({
  options: {
    gib: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log('npm run bench:spool -- [--gib G (1): spool size] [--json]');
  process.exit(0);
}
const GIB = Number(values.gib);
const progress = (s: string) => process.stderr.write(`[bench] ${s}\n`);
const seconds = (t0: number) => (performance.now() - t0) / 1000;

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-spool-'));
  try {
    const payload = Buffer.alloc(50_000, 'x'); // about a task of 200 readings
    const records = Math.round((GIB * 1024 ** 3) / payload.length);
    progress(`filling a spool with ${records} records (${GIB} GiB)`);
    const filled = await SegmentLog.open({ dir, fsync: false });
    for (let i = 0; i < records; i += 20) {
      const n = Math.min(20, records - i);
      await filled.log.append(Array.from({ length: n }, () => ({ priority: 50, weight: 200, payload })));
      if (i % 4000 === 0) progress(`  ${i} records`);
    }
    await filled.log.close();

    progress('reference: reading every segment file once');
    let t0 = performance.now();
    let bytes = 0;
    for (const id of await listSegmentIds(dir)) bytes += (await readFile(segmentPath(dir, id))).length;
    const readAll = seconds(t0);

    progress('opening the spool');
    t0 = performance.now();
    const { log } = await SegmentLog.open({ dir, fsync: false });
    const open = seconds(t0);
    if (log.pendingRecords !== records) throw new Error(`open counted ${log.pendingRecords} of ${records} records`);

    progress('replaying it (read 500 + commit)');
    t0 = performance.now();
    let replayed = 0;
    for (;;) {
      const batch = await log.read(500);
      if (batch.records.length === 0) break;
      replayed += batch.records.length;
      await log.commit(batch);
    }
    const replay = seconds(t0);
    await log.close();
    if (replayed !== records) throw new Error(`replayed ${replayed} of ${records} records`);

    const result = {
      gib: GIB,
      records,
      bytes,
      read_all_seconds: readAll,
      open_seconds: open,
      replay_seconds: replay,
      open_vs_read_all: open / readAll,
      replay_vs_read_all: replay / readAll,
    };
    if (values.json) {
      console.log(JSON.stringify(result, null, 2));
      return;
    }
    const mib = bytes / 2 ** 20;
    console.log(`\nHub spool, ${records} records, ${mib.toFixed(0)} MiB on disk (page cache warm)\n`);
    console.log(`  reference: read every segment file once   ${(readAll * 1000).toFixed(0)} ms`);
    console.log(
      `  open (a restarted hub, before it serves)   ${(open * 1000).toFixed(0)} ms = ${(result.open_vs_read_all * 100).toFixed(0)}% of the reference`,
    );
    console.log(
      `  replay (read + commit, all records)        ${(replay * 1000).toFixed(0)} ms = ${result.replay_vs_read_all.toFixed(1)}× the reference, ${(mib / replay).toFixed(0)} MiB/s`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error('[bench] failed:', err);
  process.exit(1);
});
