import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { ROOT } from '../../scripts/local-pipeline.js';

/** Runs an app's main.ts with `args`, with Redis and PostgreSQL pointing nowhere (nothing may connect). */
function app(
  name: 'hub' | 'task-processor',
  args: string[],
  extra: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = {
    ...process.env,
    REDIS_URL: 'redis://127.0.0.1:1',
    DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
    ...extra,
  };
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', `apps/${name}/src/main.ts`, ...args],
      { cwd: ROOT, env, timeout: 30_000 },
      (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

for (const name of ['hub', 'task-processor'] as const) {
  test(`${name}: --version prints it, an unknown flag exits 2 naming it, neither starts anything`, async () => {
    const version = await app(name, ['--version']);
    assert.equal(version.code, 0);
    assert.match(version.stdout, new RegExp(`^telemetryhub ${name} \\d+\\.\\d+\\.\\d+\\n$`));
    const bad = await app(name, ['--chek-config']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--chek-config/);
  });
}

test('task-processor --check-config validates the configuration and exits without connecting', async () => {
  const ok = await app('task-processor', ['--check-config']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /task-processor: configuration valid \(default alert rules, 0 devices/);
  const bad = await app('task-processor', ['--check-config'], { FETCH_BATCH_SIZE: 'many' });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /FETCH_BATCH_SIZE: .*\(got "many"\)/);
});
