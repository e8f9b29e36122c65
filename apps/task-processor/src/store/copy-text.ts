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

const TAB = 0x09;
const NEWLINE = 0x0a;
const BACKSLASH = 0x5c;
/** The letter after the backslash of each escaped character, by its code (0: not escaped). */
const ESCAPE_LETTER = new Uint8Array(128);
ESCAPE_LETTER[BACKSLASH] = BACKSLASH;
ESCAPE_LETTER[NEWLINE] = 0x6e; // n
ESCAPE_LETTER[0x0d] = 0x72; // r
ESCAPE_LETTER[TAB] = 0x74; // t

/**
 * COPY text rows written straight into bytes: the same text as copyTextRow's, encoded as UTF-8, without making a
 * string per field, per row and per chunk first. Made as strings, a reading's row cost about 800 bytes of
 * short-lived strings (a piece for every part joined) before its bytes were encoded — the largest share of what
 * the processor allocated per reading, and so of how often the young-generation collector ran. ASCII goes in a
 * byte at a time; a value with anything beyond it goes from that point through copyTextField and Buffer.write.
 */
export class CopyTextWriter {
  private buf: Buffer;
  private at = 0;

  constructor(initialBytes = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }

  /** Bytes written since the last take(). */
  get length(): number {
    return this.at;
  }

  /** One field of the row under way. */
  field(v: CopyValue): void {
    if (v === null || v === undefined) this.ascii('\\N');
    else if (typeof v === 'number') this.ascii(String(v));
    else this.text(v);
    this.buf[this.at++] = TAB;
  }

  /** Ends the row under way (its last field's tab becomes the newline). */
  endRow(): void {
    this.buf[this.at - 1] = NEWLINE;
  }

  /** The rows written so far, as a Buffer of their own; the writer starts over, keeping its memory. */
  take(): Buffer {
    const out = Buffer.allocUnsafe(this.at);
    this.buf.copy(out, 0, 0, this.at);
    this.at = 0;
    return out;
  }

  private text(s: string): void {
    // Room for the worst case: a UTF-16 unit is at most 3 bytes of UTF-8, an escaped character 2; and the tab.
    this.reserve(3 * s.length + 1);
    const buf = this.buf;
    let at = this.at;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        at += buf.write(copyTextField(s.slice(i)), at, 'utf8');
        break;
      }
      const letter = ESCAPE_LETTER[c]!;
      if (letter === 0) buf[at++] = c;
      else {
        buf[at++] = BACKSLASH;
        buf[at++] = letter;
      }
    }
    this.at = at;
  }

  /** Text known to be ASCII with nothing to escape (a number, `\N`). */
  private ascii(s: string): void {
    this.reserve(s.length + 1);
    for (let i = 0; i < s.length; i++) this.buf[this.at++] = s.charCodeAt(i);
  }

  private reserve(bytes: number): void {
    if (this.at + bytes <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.at + bytes, 2 * this.buf.length));
    this.buf.copy(bigger, 0, 0, this.at);
    this.buf = bigger;
  }
}
