/**
 * A UUID's text as its 16 bytes and back, for holding many event ids compactly. Hand-written: the `uuid`
 * package's parse() checks the version and variant by regular expression and allocates an array per call (about
 * 1.2 µs against some 40 ns here, once per reading held for a fold). Any 8-4-4-4-12 hex text is taken; the text
 * given back is lowercase (event ids are stored lowercase, and PostgreSQL's uuid ignores case).
 */
export function uuidBytes(id: string, into: Uint8Array, at: number): void {
  if (id.length !== 36) throw new TypeError(`not a UUID: ${id}`);
  let o = at;
  for (let i = 0; i < 36;) {
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (id.charCodeAt(i) !== 45) throw new TypeError(`not a UUID: ${id}`);
      i++;
      continue;
    }
    const hi = hexValue(id.charCodeAt(i));
    const lo = hexValue(id.charCodeAt(i + 1));
    if ((hi | lo) < 0) throw new TypeError(`not a UUID: ${id}`);
    into[o++] = (hi << 4) | lo;
    i += 2;
  }
}

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/** The lowercase text of the UUID in `bytes` at `at`. */
export function uuidText(bytes: Uint8Array, at: number): string {
  const h = (k: number) => HEX[bytes[at + k]!]!;
  return (
    h(0) +
    h(1) +
    h(2) +
    h(3) +
    '-' +
    h(4) +
    h(5) +
    '-' +
    h(6) +
    h(7) +
    '-' +
    h(8) +
    h(9) +
    '-' +
    h(10) +
    h(11) +
    h(12) +
    h(13) +
    h(14) +
    h(15)
  );
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48; // 0-9
  if (c >= 97 && c <= 102) return c - 87; // a-f
  if (c >= 65 && c <= 70) return c - 55; // A-F
  return -1;
}
