import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scalePng, scaleSvg } from '../../bench/scale-chart.js';

const points = [
  { layout: 'shared', replicas: 1, events_per_s: 30_000 },
  { layout: 'shared', replicas: 2, events_per_s: 41_000 },
  { layout: 'isolated', replicas: 1, events_per_s: 20_000 },
  { layout: 'isolated', replicas: 2, events_per_s: 22_000 },
];

test('the scaling chart: a line per layout through a point per run, on an axis up to the best rounded up', () => {
  const svg = scaleSvg(points, 'scaling');
  assert.equal((svg.match(/<path /g) ?? []).length, 2);
  assert.equal((svg.match(/<circle /g) ?? []).length, 4);
  assert.ok(svg.includes('>50k<'), 'axis maximum: 41k rounded up to 50k');
  const png = scalePng(points, 'scaling');
  assert.equal(png.subarray(1, 4).toString(), 'PNG');
  assert.deepEqual([png.readUInt32BE(16), png.readUInt32BE(20)], [720, 440]);
});
