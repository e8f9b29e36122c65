import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { HubConfigSchema } from '../../apps/hub/src/config.js';
import { ProcessorConfigSchema } from '../../apps/task-processor/src/config.js';

const section = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');

test('docs/configuration.md documents every setting either app reads', () => {
  const documented = new Set([...section.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]));
  const settings = [...Object.keys(HubConfigSchema.shape), ...Object.keys(ProcessorConfigSchema.shape)];
  assert.ok(settings.length > 40, 'the schemas were read');
  assert.deepEqual(
    [...new Set(settings)].filter((k) => !documented.has(k)),
    [],
    'settings missing from docs/configuration.md',
  );
});
