import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { inEventIdOrder } from './event-id-order.js';

const byString = (ids: readonly string[]) => [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

test('canonical UUIDs come out in string order, duplicates kept', () => {
  // Few distinct prefixes, so runs sharing one are common and must be ordered by the rest of the id.
  const hex = (len: number, chars: string) =>
    fc.string({ unit: fc.constantFrom(...chars), minLength: len, maxLength: len });
  const uuid = fc
    .tuple(hex(8, '0f'), hex(4, '0123456789abcdef'), hex(12, '0123456789abcdef'))
    .map(([a, b, c]) => `${a}-${b}-4000-8000-${c}`);
  fc.assert(
    fc.property(fc.array(uuid, { maxLength: 300 }), (ids) => {
      const withDuplicates = [...ids, ...ids.slice(0, 5)];
      assert.deepEqual(
        inEventIdOrder(withDuplicates, (id) => id),
        byString(withDuplicates),
      );
    }),
    { numRuns: 300 },
  );
});

test('any ids at all: a deterministic total order, whatever order they came in', () => {
  fc.assert(
    fc.property(fc.array(fc.string({ maxLength: 12 }), { maxLength: 100 }), fc.integer(), (ids, seed) => {
      const shuffled = [...ids].sort(() => ((seed = (seed * 1103515245 + 12345) | 0) & 1 ? 1 : -1));
      const ordered = inEventIdOrder(ids, (id) => id);
      assert.deepEqual(
        inEventIdOrder(shuffled, (id) => id),
        ordered,
      );
      assert.deepEqual([...ordered].sort(), [...ids].sort(), 'the same ids, none lost or invented');
    }),
    { numRuns: 1000 },
  );
  // Prefixes that parse as negative or not at all ("-1", "0x", "zz").
  const odd = ['-1', '', '0x1f', 'zz', '-fffffff', 'ffffffff-1', '00000000'];
  assert.deepEqual([...inEventIdOrder(odd, (id) => id)].sort(), [...odd].sort());
});

test('items, not just ids, are reordered', () => {
  const items = [{ id: 'b0000000-x' }, { id: 'a0000000-y' }, { id: 'a0000000-x' }];
  assert.deepEqual(
    inEventIdOrder(items, (i) => i.id).map((i) => i.id),
    ['a0000000-x', 'a0000000-y', 'b0000000-x'],
  );
});
