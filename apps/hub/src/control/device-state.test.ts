import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DeviceStateMachine, InvalidTransitionError } from './device-state.js';

test('starts only from Idle, stops idempotently, and refuses a reset that has nothing to clear', () => {
  const d = new DeviceStateMachine('d1');
  d.stop(); // idempotent in Idle
  assert.throws(() => d.reset(), InvalidTransitionError);
  d.start();
  d.start(); // already measuring: no-op
  assert.equal(d.state, 'Measuring');
  assert.throws(() => d.reset(), /stop it first/);
  d.stop();
  assert.equal(d.state, 'Idle');
});

test('latches SafeState after N consecutive read failures; a good read clears the count', () => {
  const changes: string[] = [];
  const d = new DeviceStateMachine('d1', 3, (from, to) => changes.push(`${from}->${to}`));
  d.start();
  d.readFailed('crc');
  d.readFailed('crc');
  d.readSucceeded();
  d.readFailed('crc');
  d.readFailed('crc');
  assert.equal(d.state, 'Measuring', 'the good read in between reset the count');
  d.readFailed('crc');
  assert.equal(d.state, 'SafeState');
  assert.throws(() => d.start(), /reset it before starting/);
  d.reset();
  assert.equal(d.state, 'Idle');
  assert.deepEqual(changes, ['Idle->Measuring', 'Measuring->SafeState', 'SafeState->Idle']);
});

test('a communication failure moves to Error, which only a reset clears', () => {
  const d = new DeviceStateMachine('d1');
  d.start();
  d.communicationFailed('port gone');
  assert.equal(d.state, 'Error');
  assert.equal(d.snapshot().last_error, 'port gone');
  d.stop(); // no effect outside Measuring
  assert.equal(d.state, 'Error');
  d.reset();
  d.start();
  assert.equal(d.state, 'Measuring');
});
