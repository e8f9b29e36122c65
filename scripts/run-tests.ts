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
 * The heaviest files — chaos runs, each a whole stack of several servers and both apps under faults — run after the
 * rest, one at a time, with the machine to themselves: beside another of them on two cores a Sentinel's timer runs
 * late, it enters TILT mode (no action for 30 s) and a failover overruns the test's wait. Spacing them out in the
 * list is not enough: the files between them may all be quick.
 */
const HEAVY = /[/\\]tests[/\\]e2e[/\\]chaos[^/\\]*\.test\.ts$/;

const files: string[] = [];
for (const r of roots) walk(r, files);
const selected = files
  .filter((f) => (unitOnly ? !f.endsWith('.int.test.ts') : intOnly ? f.endsWith('.int.test.ts') : true))
  .sort();
if (selected.length === 0) {
  console.error('run-tests: no test files found');
  process.exit(1);
}
const light = selected.filter((f) => !HEAVY.test(f));
const heavy = selected.filter((f) => HEAVY.test(f));
console.log(`run-tests: ${selected.length} files (${heavy.length} of them after the rest, one at a time)`);
for (const f of [...light, ...heavy]) console.log(`  ${relative(root, f)}`);

let current: ReturnType<typeof spawn> | undefined;
let stopping = false;
const forward = (sig: NodeJS.Signals) => {
  stopping = true;
  current?.kill(sig);
};
process.on('SIGINT', forward);
process.on('SIGTERM', forward);

/** One `node --test` over `batch` with `concurrency` files at a time; resolves to its exit code. */
function runBatch(batch: string[], concurrency: number): Promise<number> {
  if (batch.length === 0 || stopping) return Promise.resolve(stopping ? 1 : 0);
  return new Promise((done) => {
    current = spawn(
      process.execPath,
      ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-timeout=180000', ...batch],
      { cwd: root, stdio: 'inherit' },
    );
    current.on('exit', (code, signal) => done(code ?? (signal ? 1 : 0)));
  });
}

const codes = [await runBatch(light, Math.max(1, availableParallelism())), await runBatch(heavy, 1)];
process.exit(codes.find((c) => c !== 0) ?? 0);
