import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@telemetryhub/service-kit';
import { DEFAULT_RULES } from './alert-rules.js';
import { loadAlertRulesFile, parseAlertRulesFile } from './alert-rules-file.js';

const EXAMPLE = fileURLToPath(new URL('../../alert-rules.example.yaml', import.meta.url));

function problems(text: string, path = 'rules.yaml'): string[] {
  try {
    parseAlertRulesFile(text, path);
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail('the file was accepted');
}

test('the example file holds the built-in defaults and one device of its own', () => {
  const rules = loadAlertRulesFile(EXAMPLE);
  const shared = rules.filter((r) => r.device === undefined);
  const order = (r: { metric: string; kind: string }) => `${r.metric} ${r.kind}`;
  assert.deepEqual(
    [...shared].sort((a, b) => order(a).localeCompare(order(b))),
    [...DEFAULT_RULES].sort((a, b) => order(a).localeCompare(order(b))),
  );
  assert.deepEqual(
    rules.filter((r) => r.device !== undefined),
    [{ metric: 'temperature', kind: 'max', threshold: 1200, hysteresis: 10, device: 'kiln-1' }],
  );
});

test('an entry with max and min is two rules; JSON is read too', () => {
  assert.deepEqual(
    parseAlertRulesFile('{"rules":[{"metric":"pressure","max":1100,"min":900,"hysteresis":5}]}', 'r.json'),
    [
      { metric: 'pressure', kind: 'max', threshold: 1100, hysteresis: 5 },
      { metric: 'pressure', kind: 'min', threshold: 900, hysteresis: 5 },
    ],
  );
});

test('every problem is named with the variable, the file and where in it', () => {
  assert.deepEqual(
    problems(
      [
        'rules:',
        '  - { metric: temperature, max: 80 }', // no hysteresis
        '  - { metric: temperature, hysteresis: 1 }', // neither max nor min
        '  - { metric: humidity, max: 10, min: 20, hysteresis: 1 }',
        '  - { metric: voltage, min: .nan, hysteresis: 1 }',
        '  - { metric: current, max: 2, hysteresis: -1, colour: red }',
      ].join('\n'),
    ),
    [
      'ALERT_RULES_FILE rules.yaml rules[0].hysteresis: Invalid input: expected number, received undefined',
      'ALERT_RULES_FILE rules.yaml rules[1]: needs max, min or both',
      'ALERT_RULES_FILE rules.yaml rules[2].min: must be below max (10)',
      'ALERT_RULES_FILE rules.yaml rules[3].min: Invalid input: expected number, received NaN',
      'ALERT_RULES_FILE rules.yaml rules[4].hysteresis: Too small: expected number to be >=0',
      'ALERT_RULES_FILE rules.yaml rules[4]: Unrecognized key: "colour"',
    ],
  );
});

test('a second rule for the same metric, kind and device is refused, naming the first', () => {
  assert.deepEqual(
    problems(
      [
        'rules:',
        '  - { metric: temperature, max: 80, hysteresis: 2 }',
        '  - { metric: temperature, device: kiln-1, max: 900, hysteresis: 2 }',
        '  - { metric: temperature, device: kiln-1, max: 1000, min: 10, hysteresis: 2 }',
        '  - { metric: temperature, max: 90, hysteresis: 2 }',
      ].join('\n'),
    ),
    [
      'ALERT_RULES_FILE rules.yaml rules[2].max: rules[1] already sets the max of temperature for device kiln-1',
      'ALERT_RULES_FILE rules.yaml rules[3].max: rules[0] already sets the max of temperature for every device',
    ],
  );
});

test('a file that is not YAML, or cannot be read, is a ConfigError too', () => {
  assert.match(problems('rules: [ {')[0]!, /^ALERT_RULES_FILE: rules.yaml is not valid YAML/);
  assert.throws(() => loadAlertRulesFile('/nonexistent/rules.yaml'), /ALERT_RULES_FILE: cannot read/);
});

test('device names are mapped to the ids readings carry (pseudonyms) when asked', () => {
  const rules = parseAlertRulesFile(
    'rules: [{ metric: temperature, device: kiln-1, max: 900, hysteresis: 2 }]',
    'r.yaml',
    (id) => `pseudonym-of-${id}`,
  );
  assert.equal(rules[0]!.device, 'pseudonym-of-kiln-1');
});
