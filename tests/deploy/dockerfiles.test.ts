/**
 * The Dockerfiles, checked without a Docker engine: instructions parsed, and what they promise compared with the
 * repository (base image, non-root user, production-only install, the files they copy, HEALTHCHECK and CMD).
 * tests/deploy/metrics-contract.int.test.ts then runs each image's CMD and HEALTHCHECK command for real.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './support/manifests.js';
import { parseDockerfile, healthcheckArgv } from './support/dockerfile.js';
import { APPS, APP_NAMES } from './support/apps.js';
import { NODE_FLAGS } from '../../scripts/local-pipeline.js';

const rootPkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] };
const workspaceDirs = ['libs', 'apps'].flatMap((d) =>
  readdirSync(join(ROOT, d))
    .map((name) => `${d}/${name}`)
    .filter((dir) => existsSync(join(ROOT, dir, 'package.json'))),
);

for (const app of APP_NAMES) {
  const { portVar, defaultPort: port } = APPS[app];
  test(`apps/${app}/Dockerfile: Node 22 slim, non-root, production deps only, HEALTHCHECK on /health`, () => {
    const stages = parseDockerfile(readFileSync(join(ROOT, `apps/${app}/Dockerfile`), 'utf8'));
    const final = stages.at(-1)!;
    assert.ok(stages.length >= 2, 'multi-stage');
    for (const s of stages) assert.match(s.from, /^node:22-[a-z]+-slim$/, `stage ${s.name ?? '(final)'} base`);

    const user = final.instructions.findLast((i) => i.op === 'USER')?.args ?? '';
    assert.match(user, /^[1-9]\d*(:\d+)?$/, 'final USER is a numeric non-root uid');
    const runs = stages.flatMap((s) => s.instructions.filter((i) => i.op === 'RUN').map((i) => i.args));
    assert.ok(
      runs.some((r) => r.includes('npm ci --omit=dev') && r.includes(`--workspace=@telemetryhub/${app}`)),
      'npm ci --omit=dev of this workspace',
    );
    // npm ci needs every workspace's package.json to match the lockfile: the build and deps stages copy them all.
    assert.deepEqual(rootPkg.workspaces, ['libs/*', 'apps/*']);
    for (const s of stages.slice(0, -1)) {
      const copied = s.instructions.filter((i) => i.op === 'COPY').map((i) => i.args);
      for (const dir of workspaceDirs) {
        assert.ok(
          copied.some((c) => c.includes(`${dir}/package.json`)),
          `stage ${s.name} copies ${dir}/package.json`,
        );
      }
    }
    for (const c of stages[0]!.instructions.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))) {
      for (const src of c.args.split(/\s+/).slice(0, -1)) assert.ok(existsSync(join(ROOT, src)), `COPY ${src} exists`);
    }

    const env = final.instructions
      .filter((i) => i.op === 'ENV')
      .map((i) => i.args)
      .join(' ');
    assert.match(env, new RegExp(`\\b${portVar}=${port}\\b`));
    const health = final.instructions.find((i) => i.op === 'HEALTHCHECK')?.args ?? '';
    assert.ok(healthcheckArgv(health, { [portVar]: String(port) }).includes(`http://127.0.0.1:${port}/health`));
    const cmd = JSON.parse(final.instructions.findLast((i) => i.op === 'CMD')!.args) as string[];
    // The same Node flags as local runs (scripts/local-pipeline.ts NODE_FLAGS), so benchmarks measure what ships.
    assert.deepEqual(cmd, ['node', ...NODE_FLAGS[app], `apps/${app}/dist/main.js`]);
    assert.ok(existsSync(join(ROOT, `apps/${app}/src/main.ts`)), 'CMD runs the compiled main.ts');
  });
}

for (const app of APP_NAMES) {
  test(`apps/${app}/Dockerfile ships the app and the libraries it depends on in production, and no test code`, () => {
    const stages = parseDockerfile(readFileSync(join(ROOT, `apps/${app}/Dockerfile`), 'utf8'));
    const final = stages.at(-1)!;
    const shippedLibs = final.instructions
      .filter((i) => i.op === 'COPY')
      .flatMap((i) => [...i.args.matchAll(/\/src\/libs\/([a-z-]+)\/dist\b/g)].map((m) => m[1]!))
      .sort();
    const libs = productionLibs(`apps/${app}`);
    assert.deepEqual(shippedLibs, libs.map((dir) => dir.slice('libs/'.length)).sort());
    // What a library needs beside its compiled code (its package.json "files", e.g. the queue's Lua scripts).
    const copied = final.instructions.filter((i) => i.op === 'COPY').map((i) => i.args);
    for (const dir of libs) {
      const { files = ['dist'] } = JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8')) as {
        files?: string[];
      };
      for (const f of files) {
        assert.ok(
          copied.some((c) => c.startsWith(`--from=build /src/${dir}/${f} ${dir}/${f}`)),
          `copies ${dir}/${f}`,
        );
      }
    }
    assert.ok(!libs.includes('libs/testkit'), 'the test kit is never a production dependency');
    const cleanup = stages[0]!.instructions
      .filter((i) => i.op === 'RUN')
      .map((i) => i.args)
      .join(' ');
    for (const dir of [...libs, `apps/${app}`]) assert.ok(cleanup.includes(`${dir}/dist`), `${dir}/dist is cleaned`);
    for (const pattern of ["'*.test.*'", "'*.test-support.*'"]) assert.ok(cleanup.includes(pattern), pattern);
  });
}

test('nothing that ships imports test code: the test kit, node:test or a test-support file', () => {
  const offenders = new Set<string>();
  for (const app of APP_NAMES) {
    for (const dir of [`apps/${app}`, ...productionLibs(`apps/${app}`)]) {
      for (const file of shippedSources(join(ROOT, dir, 'src'))) {
        const text = readFileSync(file, 'utf8');
        if (/(from |import )'(@telemetryhub\/testkit|node:test)'|test-support\.js'/.test(text)) offenders.add(file);
      }
    }
  }
  assert.deepEqual([...offenders], []);
});

/** The workspace libraries a package needs at run time: its @telemetryhub dependencies, transitively. */
function productionLibs(dir: string, seen = new Set<string>()): string[] {
  const pkg = JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
  };
  for (const name of Object.keys(pkg.dependencies ?? {})) {
    if (!name.startsWith('@telemetryhub/')) continue;
    const lib = `libs/${name.slice('@telemetryhub/'.length)}`;
    assert.ok(existsSync(join(ROOT, lib, 'package.json')), `${dir} depends on ${name}, which is ${lib}`);
    if (!seen.has(lib)) {
      seen.add(lib);
      productionLibs(lib, seen);
    }
  }
  return [...seen];
}

/** Source files the production build keeps: every .ts under src but tests and test support. */
function shippedSources(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !/\.test\.ts$|\.test-support\.ts$/.test(f))
    .map((f) => join(dir, f));
}

test('.dockerignore keeps local builds and dependencies out of the context', () => {
  const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
  for (const p of ['**/node_modules', '**/dist', '.git']) assert.ok(ignore.includes(p), p);
});
