import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { createMetricsRegistry } from '@telemetryhub/service-kit';
import { PRIORITY_DEFAULT, type Reading, type TaskEnvelope } from '@telemetryhub/schemas';
import { RECORD_HEADER_BYTES } from '@telemetryhub/spool';
import { createHubMetrics } from '../metrics/hub-metrics.js';
import { TaskSpool } from './task-spool.js';

/** Fixed-width ids: every task has the same size. */
const pad = (i: number) => String(i).padStart(3, '0');

function task(i: number, priority: number): TaskEnvelope & { payload: { readings: Reading[] } } {
  const readings = Array.from({ length: 10 }, (_, j) => ({
    event_id: `e-${pad(i)}-${j}`,
    device_id: 'd1',
    metric: 'temperature',
    event_time: '2026-01-01T00:00:00.000Z',
    value: j,
  })) as Reading[];
  return {
    id: `t-${pad(i)}`,
    type: 'telemetry.analyze',
    priority,
    created_at: '2026-01-01T00:00:00.000Z',
    attempts: 0,
    payload: { readings },
  };
}

test('a filling spool warns at 70 %, keeps the last 10 % for urgent tasks, and counts what it drops', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'task-spool-'));
  const metrics = createHubMetrics(
    createMetricsRegistry({ service: 'telemetryhub-hub', version: 't', defaultMetrics: false }),
  );
  const warnings: string[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => warnings.push(JSON.parse(line).msg as string) });
  const size = RECORD_HEADER_BYTES + Buffer.byteLength(JSON.stringify(task(0, PRIORITY_DEFAULT)));
  const spool = await TaskSpool.open({ dir, capacityBytes: size * 20, metrics, log });
  try {
    for (let i = 0; i < 30; i++) await spool.store([task(i, PRIORITY_DEFAULT)]);
    assert.equal(spool.pendingTasks, 18, 'normal tasks stop at 90 % of capacity');
    assert.ok(warnings.includes('spool over 70 % full'));
    const dropped = async () => (await metrics.spoolDropped.get()).values.reduce((n, v) => n + v.value, 0);
    assert.equal(await dropped(), 12 * 10, 'every dropped reading is counted');
    for (let i = 30; i < 35; i++) await spool.store([task(i, 90)]);
    assert.equal(spool.pendingTasks, 20, 'urgent tasks fill the reserved room, then are dropped too');
    assert.equal(await dropped(), 15 * 10);
    const back = await spool.next(100);
    assert.deepEqual(
      back.tasks.map((t) => (JSON.parse(t.json) as { id: string }).id),
      [...Array.from({ length: 18 }, (_, i) => `t-${pad(i)}`), 't-030', 't-031'],
      'the oldest are kept, in order',
    );
    assert.deepEqual(back.readings, Array(20).fill(10));
    assert.equal(back.tasks[19]!.priority, 90);
  } finally {
    await spool.close();
    await rm(dir, { recursive: true, force: true });
  }
});
