import { test } from 'node:test';
import assert from 'node:assert/strict';
import { timelinePng, timelineSvg } from '../../bench/chaos/timeline-chart.js';

const points = Array.from({ length: 40 }, (_, i) => ({
  t_s: i / 2,
  acknowledged: i * 100,
  stored: Math.max(0, i * 100 - 300),
  queue_depth: i % 7,
  spool_bytes: i > 20 ? 4096 : 0,
}));
const faults = [
  { name: 'processor killed (SIGKILL) under load', at_s: 3, took_s: 1.5 },
  { name: 'PostgreSQL stopped <for> 5 s', at_s: 10, took_s: 5 },
];

test('the chaos timeline chart: four lines, a band and a named entry per fault, names escaped', () => {
  const svg = timelineSvg(points, faults);
  assert.equal((svg.match(/<path /g) ?? []).length, 4);
  assert.equal((svg.match(/opacity="0.12"/g) ?? []).length, faults.length);
  assert.ok(svg.includes('1  processor killed (SIGKILL) under load'));
  assert.ok(svg.includes('2  PostgreSQL stopped &lt;for&gt; 5 s'));
  // The acknowledged line ends at the top of its axis' range: 3,900 readings on an axis to 4,000.
  assert.ok(svg.includes('>4k<'), 'left axis maximum');
});

test('the chart rasterises to a PNG, taller by a line per fault', () => {
  const png = timelinePng(points, faults);
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.equal(png.readUInt32BE(16), 1000);
  assert.equal(png.readUInt32BE(20), 40 + 420 + 70 + 16 * faults.length);
});
