import { createHmac } from 'node:crypto';
import type { Reading } from '@telemetryhub/schemas';

/** Shortest key accepted: 32 characters (for a random key in hex or base64, at least 128 bits). */
export const MIN_PSEUDONYM_KEY_LENGTH = 32;
const PSEUDONYM = /^dev_[0-9a-f]{32}$/;

/**
 * Device-ID pseudonymisation with a keyed HMAC-SHA256, applied to every reading before anything is stored
 * (raw rows, rollups, alerts, the latest-value cache, webhooks). Deterministic, so a device keeps one pseudonym
 * and resent readings still dedup; without the key the mapping can neither be reversed nor recomputed from a
 * list of candidate ids.
 *
 * The event id is re-keyed too: a derived id is a UUID v5 of the device id, metric, time and value under a public
 * namespace, so anyone who guesses candidate device ids could otherwise find a reading's device from its id.
 */
export class DevicePseudonymizer {
  constructor(private readonly key: string) {
    if (key.length < MIN_PSEUDONYM_KEY_LENGTH) {
      throw new Error(`a pseudonymisation key must be at least ${MIN_PSEUDONYM_KEY_LENGTH} characters`);
    }
  }

  /** `dev_` and 32 hex digits (128 bits of the HMAC): a valid device id, the same for the same input and key. */
  deviceId(id: string): string {
    return `dev_${this.mac('device', id).subarray(0, 16).toString('hex')}`;
  }

  /** A UUID (version 8, RFC 9562's custom layout) of the HMAC of the event id. */
  eventId(id: string): string {
    const b = this.mac('event', id).subarray(0, 16);
    b[6] = (b[6]! & 0x0f) | 0x80;
    b[8] = (b[8]! & 0x3f) | 0x80;
    const x = b.toString('hex');
    return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
  }

  /**
   * The id a device is stored under, for queries: a pseudonym (what query results show) as it is, any other id
   * pseudonymised (so users can also ask by the id the device sends).
   */
  storedDeviceId(id: string): string {
    return PSEUDONYM.test(id) ? id : this.deviceId(id);
  }

  reading(r: Reading): Reading {
    return { ...r, device_id: this.deviceId(r.device_id), event_id: this.eventId(r.event_id) };
  }

  /** Domain-separated: a device id and an event id with the same text get unrelated pseudonyms. */
  private mac(domain: string, value: string): Buffer {
    return createHmac('sha256', this.key).update(`${domain}\u0000${value}`).digest();
  }
}
