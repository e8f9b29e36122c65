import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InstantSchema, canonicalInstantMs, instantMs } from './primitives.js';

test('the canonical fast path agrees with Date.parse on every instant it accepts (property)', () => {
  fc.assert(
    fc.property(
      fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2199-12-31T23:59:59Z'), noInvalidDate: true }),
      (d) => {
        const iso = d.toISOString();
        assert.equal(canonicalInstantMs(iso), Date.parse(iso));
        assert.equal(InstantSchema.parse(iso), iso);
      },
    ),
    { numRuns: 5000 },
  );
});

test('a canonical instant with one character changed is accepted only if it is still canonical (property)', () => {
  fc.assert(
    fc.property(
      fc.date({ min: new Date('1970-01-01T00:00:00Z'), max: new Date('2199-12-31T23:59:59Z'), noInvalidDate: true }),
      fc.nat(23),
      fc.constantFrom(...'0123456789-T:.Z /+x\u0660'.split('')),
      (d, at, c) => {
        const iso = d.toISOString();
        const s = iso.slice(0, at) + c + iso.slice(at + 1);
        const ms = canonicalInstantMs(s);
        if (ms === undefined) return;
        assert.equal(new Date(ms).toISOString(), s, `accepted ${s}`);
      },
    ),
    { numRuns: 5000 },
  );
});

test('impossible dates and other spellings leave the fast path, and are judged as before', () => {
  for (const s of [
    '2026-02-29T00:00:00.000Z',
    '2026-04-31T00:00:00.000Z',
    '2026-13-01T00:00:00.000Z',
    '2026-01-01T24:00:00.000Z',
    '0050-01-01T00:00:00.000Z',
    '2026-01-01t00:00:00.000z',
    '2026-01-01T00:00:00Z',
  ]) {
    assert.equal(canonicalInstantMs(s), undefined, s);
  }
  assert.equal(canonicalInstantMs('2024-02-29T12:00:00.000Z'), Date.parse('2024-02-29T12:00:00.000Z'), 'leap day');
  assert.equal(InstantSchema.parse('2026-01-01T00:00:00Z'), '2026-01-01T00:00:00.000Z');
  assert.equal(InstantSchema.parse('2026-01-01T01:00:00+01:00'), '2026-01-01T00:00:00.000Z');
  assert.equal(instantMs('2026-01-01T01:00:00+01:00'), Date.parse('2026-01-01T00:00:00Z'));
  assert.equal(InstantSchema.safeParse('2026-01-01T00:00:00').success, false, 'no zone: refused');
});
