import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { v5 as referenceV5, validate, version } from 'uuid';
import { TELEMETRYHUB_NAMESPACE, deriveEventId, newEventId, normalizeEventId, uuidV5 } from './event-id.js';

test('our UUID v5 is byte for byte the uuid package’s, for any text (property)', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme', maxLength: 200 }), (name) => {
      assert.equal(uuidV5(name), referenceV5(name, TELEMETRYHUB_NAMESPACE));
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.string({ unit: 'binary-ascii', maxLength: 130 }), (name) => {
      assert.equal(uuidV5(name), referenceV5(name, TELEMETRYHUB_NAMESPACE), `${name.length} characters`);
    }),
    { numRuns: 3000 },
  );
  // Every length across SHA-1's block boundaries (namespace 16 + name + padding 9: one block up to 39, two up to 103).
  for (let n = 0; n <= 130; n++) {
    const name = 'x'.repeat(n);
    assert.equal(uuidV5(name), referenceV5(name, TELEMETRYHUB_NAMESPACE), `${n} characters`);
  }
  const long = 'é'.repeat(3000); // past the one-shot buffer: the streaming hash
  assert.equal(uuidV5(long), referenceV5(long, TELEMETRYHUB_NAMESPACE));
});

test('derived and normalised ids are stable: a resend dedups', () => {
  // Pinned values: changing them would stop resends of old readings from deduplicating in PostgreSQL.
  assert.equal(
    deriveEventId('D-789', 'temperature', '2026-01-27T12:00:00.000Z', 21.4),
    referenceV5('D-789\u0000temperature\u00002026-01-27T12:00:00.000Z\u000021.4', TELEMETRYHUB_NAMESPACE),
  );
  assert.equal(normalizeEventId('evt-17'), referenceV5('id\u0000evt-17', TELEMETRYHUB_NAMESPACE));
  assert.equal(normalizeEventId('6F1C2A9E-3B0D-4C8E-9A51-0D2F7E4B8C13'), '6f1c2a9e-3b0d-4c8e-9a51-0d2f7e4b8c13');
});

test('new event ids are valid v7 UUIDs, unique and increasing within the process', () => {
  const ids = Array.from({ length: 20_000 }, () => newEventId());
  for (const id of ids.slice(0, 100)) assert.ok(validate(id) && version(id) === 7, id);
  assert.equal(new Set(ids).size, ids.length);
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i - 1]! < ids[i]!, `${ids[i - 1]} then ${ids[i]}`);
});
