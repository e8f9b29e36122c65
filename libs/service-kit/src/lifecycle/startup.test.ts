import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../config/index.js';
import { parseStartup } from './startup.js';

const base = { app: 'hub', help: 'the help', version: '1.2.3', load: () => 'loaded' };

test('the apps read their command line strictly: help, version, check-config, and nothing else', () => {
  const none = new Set<string>();
  assert.deepEqual(parseStartup({ ...base, argv: [] }), {
    kind: 'run',
    loaded: 'loaded',
    checkConfig: false,
    flags: none,
  });
  assert.deepEqual(parseStartup({ ...base, argv: ['--check-config'] }), {
    kind: 'run',
    loaded: 'loaded',
    checkConfig: true,
    flags: none,
  });
  assert.deepEqual(parseStartup({ ...base, argv: ['-h'] }), { kind: 'print', text: 'the help' });
  assert.deepEqual(parseStartup({ ...base, argv: ['--version'] }), { kind: 'print', text: 'telemetryhub hub 1.2.3' });
  for (const argv of [['--chek-config'], ['start'], ['--version=2']]) {
    const r = parseStartup({ ...base, argv });
    assert.equal(r.kind, 'usage-error', argv.join(' '));
    assert.match((r as { text: string }).text, /^hub: .*\nSee --help\.$/);
  }
});

test('an app’s own flags are read only where it declares them', () => {
  assert.deepEqual(parseStartup({ ...base, flags: ['once'], argv: ['--once'] }), {
    kind: 'run',
    loaded: 'loaded',
    checkConfig: false,
    flags: new Set(['once']),
  });
  assert.equal(parseStartup({ ...base, argv: ['--once'] }).kind, 'usage-error', 'undeclared: refused');
});

test('help and version need no valid configuration; running does', () => {
  const load = () => {
    throw new ConfigError(['REDIS_URL: bad']);
  };
  assert.equal(parseStartup({ ...base, load, argv: ['--version'] }).kind, 'print');
  assert.throws(() => parseStartup({ ...base, load, argv: [] }), ConfigError);
});
