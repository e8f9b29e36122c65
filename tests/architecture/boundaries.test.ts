/**
 * The architecture's rules are lint rules (eslint.config.js, eslint.boundaries.js); each is shown here failing on
 * a deliberate violation and passing on the allowed form, linted at a path inside the package it would live in.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ESLint } from 'eslint';
import { ROOT } from '../deploy/support/manifests.js';

const eslint = new ESLint({ cwd: ROOT });

/** The rule ids ESLint reports for `code` as if it were the file at `path` (relative to the repository). */
async function violations(path: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(ROOT, path) });
  return (result?.messages ?? []).map((m) => m.ruleId ?? m.message);
}

const uses = (module: string, name: string) => `import { ${name} } from '${module}';\nexport const used = ${name};\n`;

test('apps never import apps, by package name or by path', async () => {
  for (const module of ['@telemetryhub/task-processor', '../../task-processor/src/config.js']) {
    assert.deepEqual(await violations('apps/hub/src/probe.ts', uses(module, 'x')), ['@nx/enforce-module-boundaries']);
  }
});

test('shipped code never imports the test kit; tests and test helpers may', async () => {
  const code = uses('@telemetryhub/testkit', 'RedisServer');
  for (const path of ['libs/queue/src/probe.ts', 'apps/task-processor/src/store/probe.ts']) {
    assert.deepEqual(await violations(path, code), ['@nx/enforce-module-boundaries'], path);
  }
  for (const path of ['libs/queue/src/probe.int.test.ts', 'libs/queue/src/conformance/probe.test-support.ts']) {
    assert.deepEqual(await violations(path, code), [], path);
  }
});

test('the test kit uses nothing of ours, so every package can test with it without a cycle', async () => {
  assert.deepEqual(await violations('libs/testkit/src/probe.ts', uses('@telemetryhub/queue', 'createRedis')), [
    '@nx/enforce-module-boundaries',
  ]);
});

test('a shared library never uses an app-scoped one, and libraries never use apps', async () => {
  assert.deepEqual(await violations('libs/schemas/src/probe.ts', uses('@telemetryhub/hub', 'x')), [
    '@nx/enforce-module-boundaries',
  ]);
  assert.deepEqual(await violations('libs/queue/src/probe.ts', uses('@telemetryhub/schemas', 'TaskTypes')), []);
});

test("the BullMQ driver shares the queue's types through the interface, not the redis-list driver", async () => {
  const bad = uses('../redis-list/producer.js', 'TaskProducer');
  assert.deepEqual(await violations('libs/queue/src/bullmq/probe.ts', bad), ['no-restricted-imports']);
  assert.deepEqual(await violations('libs/queue/src/bullmq/probe.ts', uses('../task.js', 'serializeTask')), []);
});

test('the Nx project graph: every package a project, apps on libraries only, one-way edges, the test kit alone', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'th-graph-')), 'graph.json');
  await promisify(execFile)('npx', ['nx', 'graph', `--file=${file}`], {
    cwd: ROOT,
    env: { ...process.env, NX_DAEMON: 'false' },
    timeout: 120_000,
  });
  const { nodes, dependencies } = (JSON.parse(readFileSync(file, 'utf8')) as { graph: NxGraph }).graph;
  const ours = (name: string) => name.startsWith('@telemetryhub/');
  const edges = new Map(
    Object.entries(dependencies).map(([from, deps]) => [from, deps.map((d) => d.target).filter(ours)]),
  );
  const packages = ['libs', 'apps'].flatMap((d) => readdirSync(join(ROOT, d)).map((name) => `@telemetryhub/${name}`));
  assert.deepEqual(Object.keys(nodes).sort(), packages.sort());
  for (const [from, tos] of edges) {
    const type = nodes[from]!.data.tags.find((t) => t.startsWith('type:'));
    for (const to of tos) assert.equal(nodes[to]!.data.tags.includes('type:lib'), true, `${from} (${type}) -> ${to}`);
  }
  assert.deepEqual(edges.get('@telemetryhub/testkit'), []);
  // One-way: a depth-first walk never meets a package still on its own path.
  const state = new Map<string, 'open' | 'done'>();
  const visit = (name: string, path: string[]): void => {
    assert.notEqual(state.get(name), 'open', `cycle: ${[...path, name].join(' -> ')}`);
    if (state.get(name) === 'done') return;
    state.set(name, 'open');
    for (const to of edges.get(name) ?? []) visit(to, [...path, name]);
    state.set(name, 'done');
  };
  for (const name of edges.keys()) visit(name, []);
});

interface NxGraph {
  nodes: Record<string, { data: { tags: string[] } }>;
  dependencies: Record<string, { target: string }[]>;
}
