import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startLocalPipeline } from '../../scripts/local-pipeline.js';
import { eventually } from './support/eventually.js';
import { postOriginalAndReadLatest } from './support/ingest-through.js';
import { assertBothExitedCleanly } from './support/graceful-exits.js';

test('a reading crosses hub → Redis → task-processor → PostgreSQL and comes back through the HTTP API', async () => {
  const pipeline = await startLocalPipeline({
    // The fixtures are from early 2026: keep raw data long enough that they are stored, not set aside as expired.
    env: { SIM_DEVICES: '2', SIM_RATE_HZ: '5', LOG_LEVEL: 'warn', BATCH_LINGER_MS: '20', RAW_RETENTION_DAYS: '3650' },
  });
  try {
    // 1. A reading posted to the hub (the original ingest shape) is readable from the processor's API.
    const latest = await postOriginalAndReadLatest(pipeline.hubUrl, pipeline.processorUrl);
    assert.deepEqual(
      { value: latest.value, event_time: latest.event_time, unit: latest.unit },
      { value: 22.7, event_time: '2026-01-03T08:15:30.250Z', unit: 'C' },
    );

    // 2. The simulated sensors' readings land in PostgreSQL, each device numbering its samples.
    const db = new pg.Client({ connectionString: pipeline.stack.postgres.url });
    await db.connect();
    try {
      const rows = await eventually(async () => {
        const { rows: counts } = await db.query<{ device_id: string; n: string }>(
          `SELECT device_id, count(*) AS n FROM readings WHERE device_id LIKE 'sim-%' GROUP BY device_id ORDER BY 1`,
        );
        return counts.length === 2 && counts.every((r) => Number(r.n) >= 25) ? counts : undefined;
      });
      assert.deepEqual(
        rows.map((r) => r.device_id),
        ['sim-001', 'sim-002'],
      );
      const sim = await fetch(`${pipeline.processorUrl}/v1/devices/sim-001/metrics/voltage/latest`);
      assert.equal(sim.status, 200);
    } finally {
      await db.end();
    }
    const metrics = await (await fetch(`${pipeline.hubUrl}/metrics`)).text();
    assert.match(metrics, /telemetryhub_hub_published_tasks_total [1-9]/);
  } finally {
    await pipeline.stop();
  }
  assert.equal(pipeline.hub.hasExited && pipeline.processor.hasExited, true, 'both apps stopped');
  await assertBothExitedCleanly(pipeline);
});
