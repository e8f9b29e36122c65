import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { numberArrayLiteral, textArrayLiteral } from './pg-array.js';

/** PostgreSQL's array_in for a one-dimensional text array (quoted elements and bare NULL), for the round trip. */
function parseTextArray(literal: string): Array<string | null> {
  assert.ok(literal.startsWith('{') && literal.endsWith('}'));
  const out: Array<string | null> = [];
  let i = 1;
  while (i < literal.length - 1) {
    if (literal.startsWith('NULL', i)) {
      out.push(null);
      i += 4;
    } else {
      assert.equal(literal[i], '"');
      let s = '';
      for (i++; literal[i] !== '"'; i++) s += literal[i] === '\\' ? literal[++i] : literal[i];
      out.push(s);
      i++;
    }
    if (literal[i] === ',') i++;
  }
  return out;
}

test('text arrays: every element quoted, quotes and backslashes escaped, null is NULL', () => {
  assert.equal(textArrayLiteral([]), '{}');
  assert.equal(textArrayLiteral(['a', null, 'NULL', '', 'x,y{}', 'q"b\\']), '{"a",NULL,"NULL","","x,y{}","q\\"b\\\\"}');
  fc.assert(
    fc.property(fc.array(fc.option(fc.string({ unit: 'binary' }), { nil: null })), (values) => {
      assert.deepEqual(parseTextArray(textArrayLiteral(values)), values);
    }),
  );
});

test('number arrays: the shortest exact form of each double, null is NULL', () => {
  assert.equal(
    numberArrayLiteral([1, -2.5, null, 1.7976931348623157e308, 5e-324]),
    '{1,-2.5,NULL,1.7976931348623157e+308,5e-324}',
  );
  fc.assert(
    fc.property(fc.array(fc.double({ noNaN: true, noDefaultInfinity: true })), (values) => {
      const back = numberArrayLiteral(values)
        .slice(1, -1)
        .split(',')
        .filter((s) => s !== '')
        .map(Number);
      assert.deepEqual(
        back,
        values.map((v) => (Object.is(v, -0) ? 0 : v)),
      );
    }),
  );
});
