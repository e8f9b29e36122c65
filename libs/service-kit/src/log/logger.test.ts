import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger, resolveLogFormat } from './logger.js';

function collect(): { text: () => string; sink: Writable } {
  let out = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      out += chunk.toString();
      done();
    },
  });
  return { text: () => out, sink };
}

test('JSON lines carry the level as a word, the service and its version, and redact secrets by key', () => {
  const { text, sink } = collect();
  const log = createLogger({ service: 'hub', version: '1.2.3', level: 'info', format: 'json' }, sink);
  log.info({ migration: 7, auth: { password: 'p4ss' } }, 'migration applied');
  const line = JSON.parse(text().trim());
  assert.equal(line.level, 'info');
  assert.equal(line.service, 'hub');
  assert.equal(line.version, '1.2.3');
  assert.equal(line.migration, 7);
  assert.equal(line.auth.password, '***');
});

test('pretty lines are for people: time, level word, service and message, the fields after', () => {
  const { text, sink } = collect();
  const log = createLogger({ service: 'task-processor', version: '1', level: 'info', format: 'pretty' }, sink);
  log.warn({ queue: 'tasks' }, 'lease lost');
  const out = text();
  assert.match(out, /^\[\d\d:\d\d:\d\d\.\d{3}\] WARN: task-processor lease lost\n/);
  assert.match(out, /queue: "tasks"/);
  assert.doesNotMatch(out, /^\{/, 'not JSON');
});

test('`auto` is pretty at a terminal and JSON anywhere else', () => {
  assert.equal(resolveLogFormat('auto', true), 'pretty');
  assert.equal(resolveLogFormat('auto', false), 'json');
  assert.equal(resolveLogFormat('json', true), 'json');
  assert.equal(resolveLogFormat('pretty', false), 'pretty');
});
