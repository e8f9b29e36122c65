/**
 * Runs the test suite with node:test (through tsx). Usage:
 *   tsx scripts/run-tests.ts [--unit | --int] [dir ...]
 * Finds `*.test.ts` under apps/, libs/ and tests/ (or the given dirs or files). `*.int.test.ts` need real Redis/PostgreSQL, which
 * each test file starts itself on private ports (libs/testkit); `--unit` skips them.
 */
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { availableParallelism } from 'node:os';

const root = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
if (args.includes('--help')) {
  console.log('usage: tsx scripts/run-tests.ts [--unit | --int] [dir ...]');
  process.exit(0);
}
const unitOnly = args.includes('--unit');
const intOnly = args.includes('--int');
const dirs = args.filter((a) => !a.startsWith('--'));
const roots = dirs.length
  ? dirs.map((d) => resolve(root, d))
  : [join(root, 'apps'), join(root, 'libs'), join(root, 'tests')];

function walk(dir: string, out: string[]): void {
  if (!statSync(dir).isDirectory()) {
    out.push(dir); // a single test file
    return;
  }
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith('.test.ts')) out.push(path);
  }
}

/**
 * The heaviest files — chaos runs, each a whole stack of several servers and both apps under faults — spread out
 * over the run, so that on a two-core machine two of them never run at once (together they slowed a Sentinel's
 * failover past the test's wait).
 */
const HEAVY = /[/\\]tests[/\\]e2e[/\\]chaos[^/\\]*\.test\.ts$/;
function spreadHeavy(sorted: string[]): string[] {
  const heavy = sorted.filter((f) => HEAVY.test(f));
  const light = sorted.filter((f) => !HEAVY.test(f));
  const out = [...light];
  heavy.forEach((f, i) => out.splice(Math.round(((i + 1) * light.length) / (heavy.length + 1)) + i, 0, f));
  return out;
}

const files: string[] = [];
for (const r of roots) walk(r, files);
const selected = spreadHeavy(
  files.filter((f) => (unitOnly ? !f.endsWith('.int.test.ts') : intOnly ? f.endsWith('.int.test.ts') : true)).sort(),
);
if (selected.length === 0) {
  console.error('run-tests: no test files found');
  process.exit(1);
}
console.log(`run-tests: ${selected.length} files`);
for (const f of selected) console.log(`  ${relative(root, f)}`);

const child = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    `--test-concurrency=${Math.max(1, availableParallelism())}`,
    '--test-timeout=180000',
    ...selected,
  ],
  { cwd: root, stdio: 'inherit' },
);
const forward = (sig: NodeJS.Signals) => child.kill(sig);
process.on('SIGINT', forward);
process.on('SIGTERM', forward);
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
