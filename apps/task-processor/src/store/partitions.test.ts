import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PARTITIONED_TABLES, partitionFor } from './partitions.js';

const at = (iso: string) => Date.parse(iso);
const range = (p: { name: string; from: Date; to: Date }) => [p.name, p.from.toISOString(), p.to.toISOString()];

test('a reading lands in the UTC day partition of its event time, bounds inclusive-exclusive', () => {
  const day = PARTITIONED_TABLES.readings;
  assert.deepEqual(range(partitionFor(day, at('2026-11-23T00:00:00.000Z'))), [
    'readings_p20261123',
    '2026-11-23T00:00:00.000Z',
    '2026-11-24T00:00:00.000Z',
  ]);
  assert.equal(partitionFor(day, at('2026-11-23T23:59:59.999Z')).name, 'readings_p20261123');
  assert.equal(partitionFor(day, at('2026-11-24T00:00:00.000Z')).name, 'readings_p20261124');
  // an offset in the event time is only a notation: the partition is by the UTC instant
  assert.equal(partitionFor(day, at('2026-11-24T00:30:00+02:00')).name, 'readings_p20261123');
  assert.deepEqual(range(partitionFor(day, at('2028-02-29T12:00:00Z'))).slice(1), [
    '2028-02-29T00:00:00.000Z',
    '2028-03-01T00:00:00.000Z',
  ]);
});

test('rollups land in month partitions; December ends at the next year', () => {
  const month = PARTITIONED_TABLES.rollups_1m;
  assert.deepEqual(range(partitionFor(month, at('2026-12-31T23:59:00Z'))), [
    'rollups_1m_p202612',
    '2026-12-01T00:00:00.000Z',
    '2027-01-01T00:00:00.000Z',
  ]);
  assert.deepEqual(range(partitionFor(PARTITIONED_TABLES.rollups_1h, at('2027-02-10T05:00:00Z'))), [
    'rollups_1h_p202702',
    '2027-02-01T00:00:00.000Z',
    '2027-03-01T00:00:00.000Z',
  ]);
});
