import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SegmentLog, segmentFileName } from '@telemetryhub/spool';

const BIN = fileURLToPath(new URL('../../bin/telemetryhub.mjs', import.meta.url));

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

test('spool stats counts pending tasks, and validate finds a damaged record and exits 1', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'cli-spool-'));
  try {
    const { log } = await SegmentLog.open({ dir });
    await log.append(['one', 'two', 'three'].map((s) => ({ priority: 50, payload: Buffer.from(`{"task":"${s}"}`) })));
    await log.commit(await log.read(1));
    await log.close();

    const stats = await cli('spool', 'stats', '--dir', dir, '--json');
    assert.equal(stats.code, 0, stats.stderr);
    const report = JSON.parse(stats.stdout) as { pendingRecords: number; lockedBy: number | null };
    assert.equal(report.pendingRecords, 2);
    assert.equal(report.lockedBy, null, 'a closed spool is not in use');

    const clean = await cli('spool', 'validate', '--dir', dir);
    assert.equal(clean.code, 0, clean.stdout + clean.stderr);
    assert.match(clean.stdout, /3 records, all OK/);

    const path = join(dir, 'segments', segmentFileName(1));
    const bytes = await readFile(path);
    const at = bytes.indexOf('three');
    bytes[at] = 0x54 ^ bytes[at]!;
    await writeFile(path, bytes);
    const damaged = await cli('spool', 'validate', '--dir', dir);
    assert.equal(damaged.code, 1);
    assert.match(damaged.stdout, new RegExp(`${segmentFileName(1)} @\\d+: \\d+ bytes damaged \\(checksum\\)`));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('spool with no spool directory says where it looked', async () => {
  const r = await cli('spool', 'stats', '--dir', '/nonexistent/spool');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no spool at \/nonexistent\/spool/);
});
