/** A typed array of the kinds per-series and per-reading columns use. */
export type Column = Float64Array | Int32Array | Uint32Array | Uint8Array;

/** A copy of `a` with room for `length` elements (the new ones zero): how a column grows. */
export function grown<T extends Column>(a: T, length: number): T {
  const b = new (a.constructor as new (n: number) => T)(length);
  b.set(a);
  return b;
}
