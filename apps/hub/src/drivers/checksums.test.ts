import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc16Ccitt, crc8Sensirion, nmeaChecksum } from './checksums.js';

const check = new TextEncoder().encode('123456789');

test('CRC-16/CCITT-FALSE gives the standard check value', () => {
  assert.equal(crc16Ccitt(check), 0x29b1);
  assert.equal(crc16Ccitt(check, 0, 0), 0xffff, 'nothing → the init value');
});

test('the Sensirion CRC-8 matches the catalogue check value and the SHT3x datasheet example', () => {
  assert.equal(crc8Sensirion(check), 0xf7);
  assert.equal(crc8Sensirion(Uint8Array.of(0xbe, 0xef)), 0x92);
});

test('the NMEA checksum of a real GPS sentence matches the one it carries', () => {
  // $GPGGA sentence from the NMEA 0183 reference, checksum *47.
  const body = 'GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,';
  assert.equal(nmeaChecksum(body), 0x47);
});
