import * as crypto from 'node:crypto';
import { parse as parseUuid, v7 as uuidv7, validate as isUuid } from 'uuid';

/** Namespace of TelemetryHub's derived ids (uuid v5). Changing it would break dedup of resent readings. */
export const TELEMETRYHUB_NAMESPACE = '9b3c5c1e-4d4f-5f8a-9a57-2f0d6c7e1a42';
const NAMESPACE_BYTES = parseUuid(TELEMETRYHUB_NAMESPACE);
/** The namespace followed by the name, hashed in one call (`crypto.hash`: Node ≥ 20.12) without a Hash object. */
const scratch = Buffer.alloc(4096);
scratch.set(NAMESPACE_BYTES, 0);
const oneShotHash = typeof crypto.hash === 'function' ? crypto.hash : undefined;

/**
 * RFC 9562 UUID v5 of `name` in our namespace, with Node's native SHA-1. Identical to `uuid`'s `v5(name, ns)`
 * (a test holds it to that), which hashes in JavaScript: at one id per event on the ingest path that was a fifth
 * of the hub's CPU.
 */
export function uuidV5(name: string): string {
  let x: string;
  // A UTF-16 code unit is at most 3 bytes of UTF-8: below this length the name surely fits the scratch buffer.
  if (oneShotHash && name.length <= (scratch.length - 16) / 3) {
    const length = scratch.write(name, 16, 'utf8');
    x = oneShotHash('sha1', scratch.subarray(0, 16 + length), 'hex');
  } else {
    x = crypto.createHash('sha1').update(NAMESPACE_BYTES).update(name, 'utf8').digest('hex');
  }
  // Version 5 in the 13th hex digit, the RFC variant (10xx) in the 17th.
  const variant = ((parseInt(x[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-5${x.slice(13, 16)}-${variant}${x.slice(17, 20)}-${x.slice(20, 32)}`;
}

const POOL_BYTES = 16 * 256;
const pool = new Uint8Array(POOL_BYTES);
let poolOffset = POOL_BYTES;
const v7State = { msecs: -Infinity, seq: 0 };

/**
 * A new time-ordered id (UUID v7) for a reading a driver takes: increasing within the process (the monotonic
 * counter of RFC 9562 §6.2, method 1, as `uuid` keeps it), with its random bits drawn from a pool refilled 256 ids
 * at a time rather than one system call per id (which was half of the simulator's cost).
 */
export function newEventId(): string {
  if (poolOffset === POOL_BYTES) {
    crypto.randomFillSync(pool);
    poolOffset = 0;
  }
  const random = pool.subarray(poolOffset, (poolOffset += 16));
  const now = Date.now();
  if (now > v7State.msecs) {
    v7State.msecs = now;
    v7State.seq = ((random[6]! & 0x7f) << 24) | (random[7]! << 16) | (random[8]! << 8) | random[9]!;
  } else {
    v7State.seq = (v7State.seq + 1) | 0;
    if (v7State.seq === 0) v7State.msecs++;
  }
  return uuidv7({ random, msecs: v7State.msecs, seq: v7State.seq });
}

/**
 * The idempotency key of a reading that arrived without one: derived from what the reading *is* (device, metric,
 * event time, value), never random, so a resend of the same reading dedups in PostgreSQL.
 */
export function deriveEventId(device: string, metric: string, eventTime: string, value: number): string {
  return uuidV5(`${device}\u0000${metric}\u0000${eventTime}\u0000${value}`);
}

/**
 * Producers may send any string as `event_id`; inside, every id is a UUID (16 bytes in PostgreSQL). A UUID is
 * kept (lower-cased), anything else is mapped to a deterministic v5 UUID of the string.
 */
export function normalizeEventId(id: string): string {
  return isUuid(id) ? id.toLowerCase() : uuidV5(`id\u0000${id}`);
}
