import sjson from 'secure-json-parse';
import { nmeaChecksum } from '../checksums.js';
import { malformed, type DecodeResult, type DecodedSample, type FrameDecoder } from './frame-decoder.js';

/**
 * The text formats a serial device may speak, one sample per line (`\n` or `\r\n`):
 * - `json`: `{"temperature":21.5,"humidity":40.1,"seq":17}`: every key but `seq` is a metric with a finite number;
 * - `csv`: `21.5,40.1`: values in the order of `metrics`;
 * - `nmea`: `$THS,21.5,40.1*5C`: NMEA 0183 style, the XOR checksum required, fields in the order of `metrics`,
 *   an empty field means "no value", and `sentence` (when set) must match the address field.
 */
export type LineFormat =
  | { format: 'json' }
  | { format: 'csv'; metrics: readonly string[]; separator?: string }
  | { format: 'nmea'; metrics: readonly string[]; sentence?: string };

/** A line longer than this without a newline is noise (or the wrong baud rate): dropped, counted. */
export const MAX_LINE_BYTES = 4096;

/** Splits the byte stream into lines (bounded) and decodes each with its format. */
export class LineDecoder implements FrameDecoder {
  private pending: Buffer = Buffer.alloc(0);
  private discarding = false;

  constructor(private readonly format: LineFormat) {}

  push(chunk: Uint8Array): DecodeResult[] {
    const out: DecodeResult[] = [];
    let data = this.pending.length ? Buffer.concat([this.pending, chunk]) : Buffer.from(chunk);
    let nl: number;
    while ((nl = data.indexOf(0x0a)) >= 0) {
      const line = data.subarray(0, nl);
      data = data.subarray(nl + 1);
      if (this.discarding) {
        this.discarding = false; // the end of an overlong line: already counted
        continue;
      }
      const result = decodeLine(line.toString('utf8').replace(/\r$/, ''), this.format);
      if (result) out.push(result);
    }
    if (data.length > MAX_LINE_BYTES) {
      if (!this.discarding) out.push(malformed(`line longer than ${MAX_LINE_BYTES} bytes`, data.subarray(0, 40)));
      this.discarding = true;
      data = Buffer.alloc(0);
    }
    this.pending = Buffer.from(data);
    return out;
  }
}

/** One line in its format; null for a blank line (not an error: devices send them between records). */
export function decodeLine(line: string, format: LineFormat): DecodeResult | null {
  if (line.trim() === '') return null;
  switch (format.format) {
    case 'json':
      return decodeJson(line);
    case 'csv':
      return decodeFields(line, line.split(format.separator ?? ','), format.metrics, false);
    case 'nmea':
      return decodeNmea(line, format);
  }
}

function decodeJson(line: string): DecodeResult {
  let parsed: unknown;
  try {
    parsed = sjson.parse(line, null, { protoAction: 'error', constructorAction: 'error' });
  } catch (err) {
    return malformed(`not JSON: ${(err as Error).message}`, line);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return malformed('a JSON line must be an object of metric → number', line);
  }
  const sample: DecodedSample = { values: [] };
  for (const [key, value] of Object.entries(parsed)) {
    if (key === 'seq') {
      if (!Number.isSafeInteger(value) || (value as number) < 0) return malformed('seq must be an integer ≥ 0', line);
      sample.sequence = value as number;
    } else if (typeof value === 'number' && Number.isFinite(value)) {
      sample.values.push([key, value]);
    } else {
      return malformed(`${key}: must be a finite number`, line);
    }
  }
  if (sample.values.length === 0) return malformed('no metric values', line);
  return { ok: true, sample };
}

function decodeNmea(line: string, format: { metrics: readonly string[]; sentence?: string }): DecodeResult {
  const m = /^\$([^*]*)\*([0-9A-Fa-f]{2})$/.exec(line.trim());
  if (!m) return malformed('not an NMEA sentence ($…*hh)', line);
  const [, body, sum] = m as unknown as [string, string, string];
  if (nmeaChecksum(body) !== parseInt(sum, 16)) return malformed('NMEA checksum mismatch', line);
  const [address, ...fields] = body.split(',');
  if (format.sentence && address !== format.sentence) {
    return malformed(`sentence ${address} is not ${format.sentence}`, line);
  }
  return decodeFields(line, fields, format.metrics, true);
}

/** Fields in the order of `metrics`: each a finite number (or, where `emptyIsMissing`, empty for "no value"). */
function decodeFields(
  line: string,
  fields: string[],
  metrics: readonly string[],
  emptyIsMissing: boolean,
): DecodeResult {
  if (fields.length !== metrics.length) {
    return malformed(`${fields.length} fields, expected ${metrics.length} (${metrics.join(', ')})`, line);
  }
  const sample: DecodedSample = { values: [] };
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i]!.trim();
    if (field === '' && emptyIsMissing) continue;
    const value = field === '' ? NaN : Number(field);
    if (!Number.isFinite(value)) return malformed(`${metrics[i]}: "${field}" is not a finite number`, line);
    sample.values.push([metrics[i]!, value]);
  }
  if (sample.values.length === 0) return malformed('no metric values', line);
  return { ok: true, sample };
}
