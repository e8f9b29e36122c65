import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventTimeWatermarks } from './event-time-watermark.js';

const dev = (device_id: string) => ({ device_id });

test('a reading behind its own device’s newest event time by more than the allowed lateness is late', () => {
  const w = new EventTimeWatermarks(30_000);
  const late = w.observe([dev('a'), dev('a'), dev('a'), dev('b'), dev('a')], [100_000, 80_000, 60_000, 10_000, 69_999]);
  // 80 s is within 30 s of 100 s; 60 s is not (watermark 70 s); device b has its own watermark; 69.999 s is late
  assert.deepEqual(late, [false, false, true, false, true]);
  assert.equal(w.watermark('a'), 70_000);
  assert.equal(w.watermark('b'), -20_000);
  assert.equal(w.watermark('c'), undefined);
});

test('a late reading does not move the watermark back, and a batch in any order judges each reading in turn', () => {
  const w = new EventTimeWatermarks(0);
  assert.deepEqual(w.observe([dev('a'), dev('a'), dev('a')], [5, 3, 9]), [false, true, false]);
  assert.equal(w.watermark('a'), 9);
});

test('state stays bounded: the device whose watermark advanced longest ago is forgotten first', () => {
  const w = new EventTimeWatermarks(0, 2);
  w.observe([dev('a'), dev('b')], [10, 10]);
  w.observe([dev('a')], [20]); // a advanced again: b is now the stalest
  w.observe([dev('c')], [10]);
  assert.equal(w.size, 2);
  assert.equal(w.watermark('b'), undefined);
  assert.equal(w.watermark('a'), 20);
  assert.equal(w.watermark('c'), 10);
});
