/**
 * The Dockerfiles, checked without a Docker engine: instructions parsed, and what they promise compared with the
 * repository (base image, non-root user, production-only install, the files they copy, HEALTHCHECK and CMD).
 * tests/deploy/metrics-contract.int.test.ts then runs each image's CMD and HEALTHCHECK command for real.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './support/manifests.js';
import { parseDockerfile, healthcheckArgv } from './support/dockerfile.js';
import { APPS, APP_NAMES } from './support/apps.js';
import { NODE_FLAGS } from '../../scripts/local-pipeline.js';

const rootPkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] };
const workspaceDirs = ['libs/common', 'libs/devstack', 'apps/hub', 'apps/task-processor', 'apps/cli'];

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

test('.dockerignore keeps local builds and dependencies out of the context', () => {
  const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n');
  for (const p of ['**/node_modules', '**/dist', '.git']) assert.ok(ignore.includes(p), p);
});
