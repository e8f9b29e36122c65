/**
 * Rows in PostgreSQL's COPY text format (tab-separated, `\N` for NULL, one row per line), for `COPY … FROM
 * STDIN`. Text values escape backslash, newline, carriage return and tab — after that no value can end a field,
 * a row or the data (`\.`). Numbers as JavaScript prints them: the shortest form that round-trips a double.
 * NUL cannot be stored by PostgreSQL at all; the hub refuses it at the edge.
 */
export type CopyValue = string | number | null | undefined;

/** One value as a COPY text field. */
export function copyTextField(v: CopyValue): string {
  if (v === null || v === undefined) return '\\N';
  if (typeof v === 'number') return String(v);
  return NEEDS_ESCAPE.test(v) ? v.replace(ESCAPED, (c) => ESCAPES[c]!) : v;
}

/** One row: fields joined by tabs, ended by a newline. */
export function copyTextRow(values: readonly CopyValue[]): string {
  let out = '';
  for (let i = 0; i < values.length; i++) out += (i > 0 ? '\t' : '') + copyTextField(values[i]);
  return `${out}\n`;
}

const NEEDS_ESCAPE = /[\\\n\r\t]/;
const ESCAPED = /[\\\n\r\t]/g;
const ESCAPES: Readonly<Record<string, string>> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };
