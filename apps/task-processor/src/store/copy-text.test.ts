import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CopyTextWriter, copyTextField, copyTextRow, type CopyValue } from './copy-text.js';

/** PostgreSQL's COPY text reader for one line (fields split on tab, `\N` is NULL, backslash escapes). */
function parseCopyLine(line: string): Array<string | null> {
  assert.ok(line.endsWith('\n'), 'a row ends with a newline');
  const body = line.slice(0, -1);
  assert.ok(!/[\n\r]/.test(body), 'no raw newline or carriage return inside a row');
  return body.split('\t').map((field) => {
    if (field === '\\N') return null;
    const unescaped: Record<string, string> = { n: '\n', r: '\r', t: '\t', '\\': '\\' };
    return field.replace(/\\(.)/g, (_, c: string) => unescaped[c] ?? assert.fail(`unexpected escape \\${c}`));
  });
}

test('COPY text fields: NULL is \\N, the characters that end a field or row are escaped, numbers print exactly', () => {
  assert.equal(copyTextField(null), '\\N');
  assert.equal(copyTextField('\\N'), '\\\\N', 'the text "\\N" is not NULL');
  assert.equal(copyTextField('a\tb\nc\rd\\e'), 'a\\tb\\nc\\rd\\\\e');
  assert.equal(copyTextField('\\.'), '\\\\.', 'no value can be the end-of-data marker');
  assert.equal(copyTextField(0.1 + 0.2), '0.30000000000000004');
  assert.equal(copyTextRow(['x', null, 3]), 'x\t\\N\t3\n');
});

test('any row of strings and NULLs reads back as written', () => {
  const field = fc.option(
    fc.string({ unit: 'binary' }).filter((s) => !s.includes('\0')),
    { nil: null },
  );
  fc.assert(
    fc.property(fc.array(field, { minLength: 1, maxLength: 12 }), (values) => {
      assert.deepEqual(parseCopyLine(copyTextRow(values)), values);
    }),
    { numRuns: 500 },
  );
});

test('the writer’s bytes are the rows’ text in UTF-8, chunk after chunk, whatever the values', () => {
  const value: fc.Arbitrary<CopyValue> = fc.oneof(
    fc.string({ unit: 'binary' }).filter((s) => !s.includes('\0')),
    fc.string({ unit: fc.constantFrom('a', '\t', '\n', '\r', '\\', 'N', '.', 'é', '😀') }),
    fc.double(),
    fc.constant(null),
  );
  const rows = fc.array(fc.array(value, { minLength: 1, maxLength: 13 }), { minLength: 1, maxLength: 20 });
  const writer = new CopyTextWriter(8); // tiny, so that it grows
  fc.assert(
    fc.property(rows, rows, (first, second) => {
      for (const [i, chunk] of [first, second].entries()) {
        for (const row of chunk) {
          for (const v of row) writer.field(v);
          writer.endRow();
        }
        const expected = Buffer.from(chunk.map(copyTextRow).join(''), 'utf8');
        assert.deepEqual(writer.take(), expected, `chunk ${i}`);
        assert.equal(writer.length, 0, 'starts over after take');
      }
    }),
    { numRuns: 300 },
  );
});
