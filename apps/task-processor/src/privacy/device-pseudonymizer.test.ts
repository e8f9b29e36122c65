import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DeviceIdSchema, ReadingSchema, deriveEventId } from '@telemetryhub/schemas';
import { DevicePseudonymizer } from './device-pseudonymizer.js';

const KEY = 'k'.repeat(32);

test('a device keeps one pseudonym per key; different devices and different keys give different ones', () => {
  const a = new DevicePseudonymizer(KEY);
  const b = new DevicePseudonymizer('another key of at least 32 chars!');
  fc.assert(
    fc.property(fc.string({ minLength: 1, maxLength: 128 }), fc.string({ minLength: 1, maxLength: 128 }), (x, y) => {
      assert.equal(a.deviceId(x), a.deviceId(x));
      assert.match(a.deviceId(x), /^dev_[0-9a-f]{32}$/);
      assert.notEqual(a.deviceId(x), b.deviceId(x));
      if (x !== y) assert.notEqual(a.deviceId(x), a.deviceId(y));
      assert.equal(DeviceIdSchema.parse(a.deviceId(x)), a.deviceId(x), 'a pseudonym is itself a valid device id');
    }),
  );
  // Pinned: a change of scheme would give every stored device a new identity (`openssl dgst -sha256 -hmac`
  // over "device\0sensor-42", first 16 bytes).
  assert.equal(a.deviceId('sensor-42'), 'dev_27685eb60856ec1f3e17fbe4e140da4a');
  // Without domain separation both would start with the same HMAC bytes (the 'dev_' prefix must not hide that).
  assert.notEqual(a.deviceId('sensor-42').slice(4, 12), a.eventId('sensor-42').slice(0, 8), 'domains are separated');
});

test('event ids become other valid UUIDs, deterministically, so resent readings still dedup', () => {
  const p = new DevicePseudonymizer(KEY);
  const id = deriveEventId('sensor-42', 'temperature', '2026-01-27T12:00:00.000Z', 21.5);
  const pseudo = p.eventId(id);
  // Version 8 (RFC 9562's custom layout) and the RFC variant.
  assert.match(pseudo, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(p.eventId(id), pseudo);
  assert.notEqual(pseudo, id);
});

test('a reading keeps everything but its device and event ids, and still passes the reading schema', () => {
  const p = new DevicePseudonymizer(KEY);
  const reading = ReadingSchema.parse({
    event_id: deriveEventId('sensor-42', 'temperature', '2026-01-27T12:00:00.000Z', 21.5),
    device_id: 'sensor-42',
    metric: 'temperature',
    event_time: '2026-01-27T12:00:00.000Z',
    value: 21.5,
    site: 'plant-1',
  });
  const out = p.reading(reading);
  assert.deepEqual(ReadingSchema.parse(out), out);
  assert.deepEqual(
    { ...out, device_id: reading.device_id, event_id: reading.event_id },
    reading,
    'only the two ids change',
  );
  assert.equal(out.device_id, p.deviceId('sensor-42'));
  assert.equal(p.storedDeviceId('sensor-42'), out.device_id, 'queries may name the device by the id it sends');
  assert.equal(p.storedDeviceId(out.device_id), out.device_id, '… or by its pseudonym');
});

test('refuses a key shorter than 32 characters', () => {
  assert.throws(() => new DevicePseudonymizer('short'), /at least 32/);
});
