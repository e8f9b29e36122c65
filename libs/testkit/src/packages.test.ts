import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MissingDependencyError } from './errors.js';
import { aptInstall } from './packages.js';

test('without root it installs nothing and says the one command to run', () => {
  assert.throws(
    () => aptInstall(['redis-server', 'redis-tools'], 'Redis is needed for the task queue', () => {}, false),
    (err: unknown) =>
      err instanceof MissingDependencyError &&
      err.hint === 'run: sudo apt-get install -y redis-server redis-tools' &&
      /Redis is needed for the task queue: redis-server, redis-tools not installed/.test(err.message),
  );
});
