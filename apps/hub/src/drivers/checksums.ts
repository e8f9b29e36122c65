/**
 * The checksums sensor links use. Small enough to keep here; each is tested against its standard check value
 * (the checksum of the ASCII bytes "123456789").
 */

/** CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection): our binary serial frames. Check value 0x29B1. */
export function crc16Ccitt(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0xffff;
  for (let i = start; i < end; i++) {
    crc ^= bytes[i]! << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

/** CRC-8 as Sensirion sensors send it (poly 0x31, init 0xFF): SHT3x. Datasheet example: 0xBEEF → 0x92. */
export function crc8Sensirion(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0xff;
  for (let i = start; i < end; i++) {
    crc ^= bytes[i]!;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x80 ? ((crc << 1) ^ 0x31) & 0xff : (crc << 1) & 0xff;
  }
  return crc;
}

/** NMEA 0183 checksum: XOR of every character between `$` and `*`, as two hex digits. */
export function nmeaChecksum(body: string): number {
  let x = 0;
  for (let i = 0; i < body.length; i++) x ^= body.charCodeAt(i) & 0xff;
  return x;
}
