import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { until } from '@telemetryhub/testkit';
import { scrapeMetric, startLocalPipeline } from '../../scripts/local-pipeline.js';

/**
 * The simulator's misbehaviour on demand, through the whole pipeline (hub → Redis → processor → PostgreSQL):
 * duplicates are stored once, gaps stay visible as missing sequence numbers, held-back samples still arrive,
 * and spikes fire alerts. The hub's own count of what it injected says what the database must show.
 */
test('duplicates are stored once, gaps stay visible, held-back samples arrive, spikes fire alerts', async () => {
  const pipeline = await startLocalPipeline({
    env: {
      SIM_DEVICES: '3',
      SIM_RATE_HZ: '20',
      SIM_METRICS: 'temperature',
      SIM_SEED: '11',
      SIM_SPIKE_RATE: '0.05',
      SIM_GAP_RATE: '0.1',
      SIM_DUPLICATE_RATE: '0.2',
      SIM_OUT_OF_ORDER_RATE: '0.1',
      BATCH_LINGER_MS: '20',
      LOG_LEVEL: 'warn',
    },
  });
  const db = new pg.Client({ connectionString: pipeline.stack.postgres.url });
  await db.connect();
  try {
    await until(
      'the simulator sent 300 readings',
      async () =>
        (await scrapeMetric(pipeline.hubUrl, 'telemetryhub_hub_readings_total', { source: 'simulated' })) >= 300,
      60_000,
      100,
    );
    assert.equal((await fetch(`${pipeline.hubUrl}/stop`, { method: 'POST' })).status, 200);
    await new Promise((r) => setTimeout(r, 200)); // a tick in flight at the stop
    const sent = await scrapeMetric(pipeline.hubUrl, 'telemetryhub_hub_readings_total', { source: 'simulated' });
    const injected = (kind: string) =>
      scrapeMetric(pipeline.hubUrl, 'telemetryhub_hub_simulated_anomalies_total', { kind });
    const [duplicates, gaps, held, spikes] = await Promise.all(
      ['duplicate', 'gap', 'out_of_order', 'spike'].map(injected),
    );
    assert.ok(
      duplicates! > 0 && gaps! > 0 && held! > 0 && spikes! > 0,
      `every anomaly happened: ${[duplicates, gaps, held, spikes]}`,
    );

    const stored = async () =>
      Number(
        (await db.query<{ n: string }>(`SELECT count(*) AS n FROM readings WHERE device_id LIKE 'sim-%'`)).rows[0]!.n,
      );
    await until('every distinct reading is stored', async () => (await stored()) === sent - duplicates!, 60_000, 200);

    const { rows } = await db.query<{ device_id: string; n: string; distinct_seq: string; span: string }>(
      `SELECT device_id, count(*) AS n, count(DISTINCT sequence_id) AS distinct_seq,
              max(sequence_id) - min(sequence_id) + 1 AS span
         FROM readings WHERE device_id LIKE 'sim-%' GROUP BY device_id ORDER BY device_id`,
    );
    assert.equal(rows.length, 3);
    for (const r of rows) assert.equal(r.n, r.distinct_seq, `${r.device_id}: no sample stored twice`);
    const missing = rows.reduce((m, r) => m + Number(r.span) - Number(r.n), 0);
    assert.ok(
      missing >= 1 && missing <= gaps!,
      `gaps visible as missing sequence numbers (${missing} of ${gaps} gaps)`,
    );

    const alerts = await db.query<{ n: string }>(`SELECT count(*) AS n FROM alerts WHERE device_id LIKE 'sim-%'`);
    assert.ok(Number(alerts.rows[0]!.n) >= 1, `spikes fired alerts (${spikes} spikes)`);
  } finally {
    await db.end();
    await pipeline.stop();
  }
});
