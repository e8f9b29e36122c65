import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { RedisServer } from '@telemetryhub/testkit';
import { createRedis, type RedisClient } from '../redis-connection.js';
import * as scripts from './scripts.js';

const dir = new URL('../../lua/', import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith('.lua'));
let server: RedisServer;
let redis: RedisClient;

before(async () => {
  server = await RedisServer.start();
  redis = createRedis(server.url);
});
after(async () => {
  redis?.disconnect();
  await server?.stop();
});

test('every Lua script compiles on a real Redis (SCRIPT LOAD), flags line included', async () => {
  assert.ok(files.length >= 9, `scripts found: ${files.join(', ')}`);
  for (const f of files) {
    const sha = (await redis.script('LOAD', readFileSync(new URL(f, dir), 'utf8'))) as string;
    assert.match(sha, /^[0-9a-f]{40}$/, f);
  }
});

test('each script file is one exported step, and each step is a file', () => {
  const loaded = Object.values(scripts).filter((v): v is string => typeof v === 'string');
  const texts = files.map((f) => readFileSync(new URL(f, dir), 'utf8'));
  assert.deepEqual([...loaded].sort(), [...texts].sort());
});

test('only steps that move or delete tasks may run at maxmemory (allow-oom); adding data stays refusable', () => {
  const flagged = files.filter((f) => readFileSync(new URL(f, dir), 'utf8').startsWith('#!lua flags=allow-oom'));
  for (const adds of ['enqueue-bounded.lua', 'dead-letter.lua']) assert.ok(!flagged.includes(adds), adds);
  for (const frees of ['fetch-batch.lua', 'ack-batch.lua', 'ack-run.lua', 'requeue.lua']) {
    assert.ok(flagged.includes(frees), frees);
  }
});
