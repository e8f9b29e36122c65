/**
 * PostgreSQL array literals for `unnest($n::type[])` parameters, built in one pass. node-postgres serialises a JS
 * array element by element (a type check, two regex replaces and a concatenation each), which was the largest
 * single cost of the raw insert on the processor's main thread (bench:processor profile); these do
 * the same job in about half the CPU.
 */

/** `{"a","b\"c",NULL}`: every element quoted (so "NULL", "", commas and braces stay text), null → NULL. */
export function textArrayLiteral(values: ReadonlyArray<string | null>): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i > 0) out += ',';
    if (v === null || v === undefined) out += 'NULL';
    else out += `"${NEEDS_ESCAPE.test(v) ? v.replace(ESCAPED, '\\$&') : v}"`;
  }
  return `${out}}`;
}

/** `{1,-2.5,NULL}`: numbers as JavaScript prints them (exact for doubles: the shortest round-trip form). */
export function numberArrayLiteral(values: ArrayLike<number | null>): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i > 0) out += ',';
    out += v === null || v === undefined ? 'NULL' : String(v);
  }
  return `${out}}`;
}

const NEEDS_ESCAPE = /["\\]/;
const ESCAPED = /["\\]/g;
