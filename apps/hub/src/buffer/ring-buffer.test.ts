import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RingBuffer } from './ring-buffer.js';

test('drops the oldest sample when full and hands it back so the drop can be counted', () => {
  const b = new RingBuffer<number>(3);
  assert.equal(b.pushDropOldest(1), undefined);
  b.pushDropOldest(2);
  b.pushDropOldest(3);
  assert.equal(b.pushDropOldest(4), 1);
  assert.deepEqual(b.take(10), [2, 3, 4]);
});

test('refuses a push when full under the reject policy and keeps what it has', () => {
  const b = new RingBuffer<string>(2);
  assert.equal(b.tryPush('a'), true);
  assert.equal(b.tryPush('b'), true);
  assert.equal(b.tryPush('c'), false);
  assert.deepEqual(b.take(5), ['a', 'b']);
  assert.equal(b.size, 0);
});

test('rejects a capacity that is not a positive integer', () => {
  assert.throws(() => new RingBuffer(0), RangeError);
  assert.throws(() => new RingBuffer(1.5), RangeError);
});

test('behaves like a bounded queue that forgets its oldest items, under any sequence of operations', () => {
  type Op = { kind: 'push'; value: number } | { kind: 'try'; value: number } | { kind: 'take'; n: number };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.integer().map((value) => ({ kind: 'push' as const, value })),
    fc.integer().map((value) => ({ kind: 'try' as const, value })),
    fc.nat(6).map((n) => ({ kind: 'take' as const, n })),
  );
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 8 }), fc.array(op, { maxLength: 200 }), (capacity, ops) => {
      const buffer = new RingBuffer<number>(capacity);
      const model: number[] = [];
      let droppedByBuffer = 0;
      let droppedByModel = 0;
      for (const o of ops) {
        if (o.kind === 'push') {
          if (buffer.pushDropOldest(o.value) !== undefined) droppedByBuffer++;
          model.push(o.value);
          if (model.length > capacity) {
            model.shift();
            droppedByModel++;
          }
        } else if (o.kind === 'try') {
          const accepted = buffer.tryPush(o.value);
          assert.equal(accepted, model.length < capacity);
          if (accepted) model.push(o.value);
        } else {
          assert.deepEqual(buffer.take(o.n), model.splice(0, o.n));
        }
        assert.equal(buffer.size, model.length);
        assert.ok(buffer.size <= capacity);
      }
      assert.equal(droppedByBuffer, droppedByModel);
    }),
  );
});
