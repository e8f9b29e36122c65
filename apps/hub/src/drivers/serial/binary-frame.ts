import { crc16Ccitt } from '../checksums.js';
import { malformed, type DecodeResult, type FrameDecoder } from './frame-decoder.js';

/**
 * Our length-prefixed binary frame, for devices that cannot afford text:
 *
 *   0xAA 0x55 | length (u8) | sequence (u32 BE) | value × N (float32 BE) | CRC-16/CCITT-FALSE (u16 BE)
 *
 * `length` counts the payload (sequence + values), so length = 4 + 4·N; the CRC covers the length byte and the
 * payload. Values are in the order of the device's configured `metrics`. After a bad CRC the decoder skips one byte
 * and looks for the next sync pair, so one corrupted frame costs one frame, not the stream.
 */
const SYNC = [0xaa, 0x55] as const;
const HEADER = 3; // sync ×2 + length
const TRAILER = 2; // CRC

export function encodeBinaryFrame(sequence: number, values: readonly number[]): Buffer {
  const length = 4 + 4 * values.length;
  if (length > 255) throw new RangeError(`at most 62 values per frame (got ${values.length})`);
  const frame = Buffer.alloc(HEADER + length + TRAILER);
  frame[0] = SYNC[0];
  frame[1] = SYNC[1];
  frame[2] = length;
  frame.writeUInt32BE(sequence >>> 0, 3);
  values.forEach((v, i) => frame.writeFloatBE(v, 7 + 4 * i));
  frame.writeUInt16BE(crc16Ccitt(frame, 2, HEADER + length), HEADER + length);
  return frame;
}

export class BinaryFrameDecoder implements FrameDecoder {
  private data: Buffer = Buffer.alloc(0);
  private resyncing = false;

  constructor(private readonly metrics: readonly string[]) {}

  push(chunk: Uint8Array): DecodeResult[] {
    const out: DecodeResult[] = [];
    let data = this.data.length ? Buffer.concat([this.data, chunk]) : Buffer.from(chunk);
    let skipped = 0;
    const flushSkipped = () => {
      // Bytes skipped while resynchronising after a bad frame belong to that frame, already counted.
      if (skipped > 0 && !this.resyncing) out.push(malformed(`${skipped} bytes outside any frame`, ''));
      skipped = 0;
    };
    for (;;) {
      const sync = findSync(data);
      if (sync < 0) {
        // Keep a trailing 0xAA: it may be the first half of the next sync pair.
        const keep = data.length > 0 && data[data.length - 1] === SYNC[0] ? 1 : 0;
        skipped += data.length - keep;
        data = data.subarray(data.length - keep);
        break;
      }
      skipped += sync;
      data = data.subarray(sync);
      if (data.length < HEADER) break;
      const length = data[2]!;
      if (data.length < HEADER + length + TRAILER) break; // wait for the rest
      flushSkipped();
      const crc = data.readUInt16BE(HEADER + length);
      if (crc !== crc16Ccitt(data, 2, HEADER + length)) {
        out.push(malformed('CRC mismatch', data.subarray(0, HEADER + length + TRAILER)));
        data = data.subarray(1); // resynchronise: the real frame may start inside this one
        this.resyncing = true;
        continue;
      }
      this.resyncing = false;
      out.push(this.decodePayload(data.subarray(HEADER, HEADER + length)));
      data = data.subarray(HEADER + length + TRAILER);
    }
    flushSkipped();
    this.data = Buffer.from(data);
    return out;
  }

  private decodePayload(payload: Buffer): DecodeResult {
    const expected = 4 + 4 * this.metrics.length;
    if (payload.length !== expected) {
      return malformed(
        `payload of ${payload.length} bytes, expected ${expected} for ${this.metrics.length} metrics`,
        payload,
      );
    }
    const values: Array<[string, number]> = [];
    for (let i = 0; i < this.metrics.length; i++) {
      const value = payload.readFloatBE(4 + 4 * i);
      if (!Number.isFinite(value)) return malformed(`${this.metrics[i]}: not a finite number`, payload);
      values.push([this.metrics[i]!, value]);
    }
    return { ok: true, sample: { values, sequence: payload.readUInt32BE(0) } };
  }
}

function findSync(data: Buffer): number {
  for (let i = 0; i + 1 < data.length; i++) if (data[i] === SYNC[0] && data[i + 1] === SYNC[1]) return i;
  return -1;
}
