import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { HubConfigSchema } from '../../apps/hub/src/config.js';
import { ProcessorConfigSchema } from '../../apps/task-processor/src/config.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const section = readme.slice(
  readme.indexOf('## Configuration'),
  readme.indexOf('\n## ', readme.indexOf('## Configuration') + 1),
);

test('the README configuration table documents every setting either app reads', () => {
  const documented = new Set([...section.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]));
  const settings = [...Object.keys(HubConfigSchema.shape), ...Object.keys(ProcessorConfigSchema.shape)];
  assert.ok(settings.length > 40, 'the schemas were read');
  assert.deepEqual(
    [...new Set(settings)].filter((k) => !documented.has(k)),
    [],
    'settings missing from README "Configuration"',
  );
});
