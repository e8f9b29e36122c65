import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { HubConfigSchema } from '../../apps/hub/src/config.js';
import { ProcessorConfigSchema } from '../../apps/task-processor/src/config.js';
import { CONFIG_DOC, renderConfigDoc } from '../../scripts/config-doc.js';

test('docs/configuration.md is what scripts/config-doc.ts generates from the config schemas (npm run docs:config)', () => {
  assert.equal(readFileSync(CONFIG_DOC, 'utf8'), renderConfigDoc());
});

test('the generated reference documents every setting either app reads, with its default', () => {
  const doc = renderConfigDoc();
  const rows = new Map(
    [...doc.matchAll(/^\| `([A-Z][A-Z0-9_]+)`\s*\| (\w+)\s*\| (.+?)\s*\| (.+?)\s*\|$/gm)].map((m) => [m[1]!, m]),
  );
  const settings = new Set([...Object.keys(HubConfigSchema.shape), ...Object.keys(ProcessorConfigSchema.shape)]);
  assert.ok(settings.size > 40, 'the schemas were read');
  assert.deepEqual([...rows.keys()].sort(), [...settings].sort());
  assert.equal(rows.get('REDIS_URL')![2], 'both');
  assert.equal(rows.get('HUB_PORT')![3], '`8080`');
  assert.equal(rows.get('QUEUE_MAX_DEPTH')![3], '`0` (no limit)');
  assert.equal(
    rows.get('WORKER_THREADS')![3],
    '0 up to 2 cores, else one per core',
    'a machine-dependent default is described, not shown',
  );
});

test('a setting without a description stops the generator, naming it', () => {
  const undocumented = HubConfigSchema.extend({ NEW_SETTING: z.coerce.number().default(1) });
  assert.throws(() => renderConfigDoc([['hub', undocumented]]), /NEW_SETTING: its schema has no description/);
});
