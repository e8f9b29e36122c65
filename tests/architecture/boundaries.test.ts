/**
 * The architecture's rules are lint rules (eslint.config.js, eslint.boundaries.js); each is shown here failing on
 * a deliberate violation and passing on the allowed form, linted at a path inside the package it would live in.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ESLint } from 'eslint';
import { ROOT } from '../deploy/support/manifests.js';
import { COMPOSITION_FILES, HUB_LAYERS, PROCESSOR_LAYERS } from '../../eslint.boundaries.js';

const eslint = new ESLint({ cwd: ROOT });
const run = promisify(execFile);
const nx = (args: string[]) => run('npx', ['nx', ...args], { cwd: ROOT, env: process.env, timeout: 120_000 });

// The Nx rule reads the cached project graph (and skips itself without one): compute it as `npm run lint` does.
before(() => nx(['show', 'projects']));

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
  const bad = uses('../redis-list/producer.js', 'RedisListProducer');
  assert.deepEqual(await violations('libs/queue/src/bullmq/probe.ts', bad), ['no-restricted-imports']);
  assert.deepEqual(await violations('libs/queue/src/bullmq/probe.ts', uses('../task.js', 'serializeTask')), []);
});

test("the task-processor's folders import only the folders listed before them, never the composition", async () => {
  const src = 'apps/task-processor/src';
  const below = uses('../domain/task.js', 'x');
  assert.deepEqual(await violations(`${src}/store/probe.ts`, below), []);
  // storage never imports rules or handlers; a feature never imports the stage that uses it
  for (const [from, module] of [
    ['store', '../alerts/alert-rules.js'],
    ['store', '../handlers/index.js'],
    ['store/migrations', '../../fold/fold-work.js'],
    ['decode', '../handlers/telemetry.handler.js'],
    ['alerts', '../outliers/outlier-rules.js'],
    ['domain', '../store/pool.js'],
    ['handlers', '../consume/task-runner.js'],
    ['metrics', '../config.js'],
  ] as const) {
    assert.deepEqual(await violations(`${src}/${from}/probe.ts`, uses(module, 'x')), ['no-restricted-imports'], from);
  }
  assert.deepEqual(await violations(`${src}/store/probe.test.ts`, uses('../handlers/index.js', 'x')), []);
  assert.deepEqual(await violations('apps/hub/src/buffer/probe.ts', uses('../publish/publisher.js', 'x')), [
    'no-restricted-imports',
  ]);
});

for (const [app, layers] of [
  ['task-processor', PROCESSOR_LAYERS],
  ['hub', HUB_LAYERS],
] as const) {
  test(`every folder of the ${app} has its place in the layers, and only the composition sits above`, () => {
    const src = join(ROOT, `apps/${app}/src`);
    const entries = readdirSync(src, { withFileTypes: true });
    const folders = entries.filter((e) => e.isDirectory()).map((e) => e.name);
    assert.deepEqual(folders.sort(), [...layers].sort());
    const files = entries
      .filter((e) => e.isFile() && e.name.endsWith('.ts') && !/\.test(-support)?\.ts$/.test(e.name))
      .map((e) => e.name.replace(/\.ts$/, ''));
    assert.deepEqual(files.sort(), [...COMPOSITION_FILES].sort());
  });
}

test('the Nx project graph: every package a project, apps on libraries only, one-way edges, the test kit alone', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'th-graph-')), 'graph.json');
  await nx(['graph', `--file=${file}`]);
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
