/** What one frame from a serial device says: a value per metric, and the device's own counter if it sends one. */
export interface DecodedSample {
  values: Array<[metric: string, value: number]>;
  /** The device's own sample counter (JSON `seq`, binary frames); the hub numbers samples itself otherwise. */
  sequence?: number;
}

/** A frame that could not be read: counted and skipped, never fatal. `raw` is a short printable excerpt. */
export interface MalformedFrame {
  reason: string;
  raw: string;
}

export type DecodeResult = { ok: true; sample: DecodedSample } | ({ ok: false } & MalformedFrame);

/** Turns the bytes of a serial link, in whatever chunks they arrive, into samples. Stateful: one per port. */
export interface FrameDecoder {
  push(chunk: Uint8Array): DecodeResult[];
}

export function malformed(reason: string, raw: string | Uint8Array): DecodeResult {
  const text = typeof raw === 'string' ? raw : Buffer.from(raw).toString('hex');
  return { ok: false, reason, raw: text.length > 80 ? `${text.slice(0, 80)}…` : text };
}
