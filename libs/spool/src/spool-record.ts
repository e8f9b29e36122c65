import { crc32 } from 'node:zlib';

/**
 * One spool record on disk:
 *
 *   offset 0  u32 BE  magic 0x54485331 ("THS1"), so a reader can find the next record after damage
 *   offset 4  u32 LE  payload length in bytes
 *   offset 8  u32 LE  CRC-32 of everything after it (priority, weight, payload)
 *   offset 12 u8      priority of the task (0–100), so a replay keeps the urgent lane without parsing JSON
 *   offset 13 u32 LE  weight: what the record counts for (the hub stores the number of readings in the task)
 *   offset 17 …       payload (the task envelope JSON, UTF-8)
 *
 * A record is written whole with one write call and fsynced; a power cut can still leave a torn tail or garbage,
 * which the checksum catches.
 */
export const RECORD_MAGIC = 0x54485331;
const MAGIC_BYTES = Buffer.from([0x54, 0x48, 0x53, 0x31]);
export const RECORD_HEADER_BYTES = 17;
/** Larger lengths are damage, not data: no task comes near this (10,000 readings ≈ 3 MB). */
export const MAX_RECORD_PAYLOAD_BYTES = 64 * 1024 * 1024;

export interface SpoolRecord {
  priority: number;
  /** What the record counts for, e.g. readings in the task (0 when unused). */
  weight?: number;
  payload: Buffer;
}

export function encodeRecord({ priority, weight = 0, payload }: SpoolRecord): Buffer {
  const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES + payload.length);
  out.writeUInt32BE(RECORD_MAGIC, 0);
  out.writeUInt32LE(payload.length, 4);
  out.writeUInt8(Math.max(0, Math.min(255, Math.trunc(priority))), 12);
  out.writeUInt32LE(Math.max(0, Math.min(0xffffffff, Math.trunc(weight))), 13);
  payload.copy(out, RECORD_HEADER_BYTES);
  out.writeUInt32LE(crc32(out.subarray(12)), 8);
  return out;
}

export type DecodeResult =
  | { kind: 'record'; record: SpoolRecord; end: number }
  /** The bytes end before the record does: read more, or (at the end of a file) a torn write. */
  | { kind: 'incomplete'; needed: number }
  /** Not a valid record at this offset (bad magic, impossible length, or checksum mismatch). */
  | { kind: 'corrupt'; reason: 'magic' | 'length' | 'checksum' };

/** Decodes the record starting at `at` in `buf`. */
export function decodeRecord(buf: Buffer, at: number): DecodeResult {
  if (buf.length - at < RECORD_HEADER_BYTES) {
    // A short header is damage if even its magic is wrong.
    const have = buf.subarray(at, at + 4);
    if (!MAGIC_BYTES.subarray(0, have.length).equals(have)) return { kind: 'corrupt', reason: 'magic' };
    return { kind: 'incomplete', needed: RECORD_HEADER_BYTES };
  }
  if (buf.readUInt32BE(at) !== RECORD_MAGIC) return { kind: 'corrupt', reason: 'magic' };
  const length = buf.readUInt32LE(at + 4);
  if (length > MAX_RECORD_PAYLOAD_BYTES) return { kind: 'corrupt', reason: 'length' };
  const end = at + RECORD_HEADER_BYTES + length;
  if (end > buf.length) return { kind: 'incomplete', needed: RECORD_HEADER_BYTES + length };
  if (crc32(buf.subarray(at + 12, end)) !== buf.readUInt32LE(at + 8)) return { kind: 'corrupt', reason: 'checksum' };
  return {
    kind: 'record',
    record: {
      priority: buf.readUInt8(at + 12),
      weight: buf.readUInt32LE(at + 13),
      payload: buf.subarray(at + RECORD_HEADER_BYTES, end),
    },
    end,
  };
}

/**
 * After damage at `from`: the offset of the next position where a whole, valid record starts, or -1. A magic
 * sequence inside a payload is skipped because the record it would start fails its checksum.
 */
export function findNextRecord(buf: Buffer, from: number): number {
  for (let at = buf.indexOf(MAGIC_BYTES, from); at !== -1; at = buf.indexOf(MAGIC_BYTES, at + 1)) {
    if (decodeRecord(buf, at).kind === 'record') return at;
  }
  return -1;
}
