import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@telemetryhub/service-kit';
import { loadDeviceMetadataFile, parseDeviceMetadataFile } from './device-metadata-file.js';

const EXAMPLE = fileURLToPath(new URL('../../device-metadata.example.yaml', import.meta.url));

test('the example file parses into each device’s model and labels; ids map through the pseudonymiser', () => {
  assert.deepEqual(loadDeviceMetadataFile(EXAMPLE), [
    { deviceId: 'kiln-1', model: 'KX-200', labels: { line: '3', owner: 'ceramics' } },
    { deviceId: 'sensor-42', model: 'TH-10', labels: { room: 'lab' } },
  ]);
  assert.equal(loadDeviceMetadataFile(EXAMPLE, (id) => `p-${id}`)[0]!.deviceId, 'p-kiln-1');
});

test('a device listed twice, a bad label key or an unknown field is named with where it is', () => {
  let problems: string[] = [];
  try {
    parseDeviceMetadataFile(
      [
        'devices:',
        '  - { id: a, model: M }',
        '  - { id: a, labels: { "bad key": x } }',
        '  - { id: b, colour: red }',
      ].join('\n'),
      'devices.yaml',
    );
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    problems = err.problems;
  }
  assert.deepEqual(problems, [
    'DEVICE_METADATA_FILE devices.yaml devices[1].labels.bad key: a label key must be 1–64 letters, digits or _ . : -',
    'DEVICE_METADATA_FILE devices.yaml devices[2]: Unrecognized key: "colour"',
  ]);
  // Once every entry is well-formed, a duplicate id is named.
  assert.throws(
    () => parseDeviceMetadataFile('devices: [{ id: a }, { id: a }]', 'devices.yaml'),
    (err: unknown) =>
      err instanceof ConfigError &&
      err.problems[0] === 'DEVICE_METADATA_FILE devices.yaml devices[1].id: a is also devices[0]',
  );
});
