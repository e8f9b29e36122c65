/**
 * `npm run bench`: every benchmark, one after another, each with its own options — full size, or with `--quick`
 * small enough for the whole set to finish in minutes — ending with the end-to-end comparison, whose figures go
 * to bench/results/latest.json. Each benchmark prints its own report; a failing one is named and the rest still run.
 * Usage: npm run bench -- [--quick] [--only NAME[,NAME…]] [--scale (the scaling run alone: docs/scaling.md)]
 */
import { spawn } from 'node:child_process';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    scale: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});

/** Each benchmark's script and its options at full size and quick. */
const BENCHES: Array<{ name: string; script: string; full: string[]; quick: string[] }> = [
  {
    name: 'queue',
    script: 'queue.bench.ts',
    full: [],
    quick: ['--tasks', '50000', '--single-tasks', '10000', '--rounds', '1'],
  },
  { name: 'processor', script: 'processor.bench.ts', full: [], quick: ['--events', '50000', '--rounds', '1'] },
  { name: 'processor-latency', script: 'processor-latency.bench.ts', full: [], quick: ['--seconds', '10'] },
  {
    name: 'hub',
    script: 'hub-ingest.bench.ts',
    full: [],
    quick: ['--events', '200000', '--duration', '5', '--access-log-rounds', '1'],
  },
  { name: 'spool', script: 'spool.bench.ts', full: [], quick: ['--gib', '0.25'] },
  { name: 'scale', script: 'scale.bench.ts', full: [], quick: ['--quick'] },
  { name: 'tracing', script: 'tracing.bench.ts', full: [], quick: ['--quick'] },
  { name: 'e2e', script: 'e2e.bench.ts', full: [], quick: ['--quick'] },
];

if (values.help) {
  console.log(
    `npm run bench -- [--quick] [--only ${BENCHES.map((b) => b.name).join(',')}] [--scale]\n` +
      'Runs each benchmark with its own options (full size, or --quick: a few minutes in all); the end-to-end\n' +
      'comparison writes bench/results/latest.json; --scale runs the scaling run alone (docs/scaling.md).\n' +
      'One benchmark alone: npm run bench:<name> -- --help.',
  );
  process.exit(0);
}
const only = values.scale ? ['scale'] : values.only?.split(',').map((s) => s.trim());
const unknown = only?.filter((n) => !BENCHES.some((b) => b.name === n)) ?? [];
if (unknown.length) {
  console.error(`bench: unknown benchmark ${unknown.join(', ')} (known: ${BENCHES.map((b) => b.name).join(', ')})`);
  process.exit(2);
}

const run = (script: string, args: string[]) =>
  new Promise<number>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', new URL(script, import.meta.url).pathname, ...args], {
      stdio: 'inherit',
    });
    child.on('exit', (code) => resolve(code ?? 1));
  });

const failed: string[] = [];
const selected = BENCHES.filter((b) => !only || only.includes(b.name));
for (const [i, b] of selected.entries()) {
  const args = values.quick ? b.quick : b.full;
  process.stderr.write(`\n[bench] ${i + 1}/${selected.length}: ${b.name} ${args.join(' ')}\n`);
  if ((await run(b.script, args)) !== 0) failed.push(b.name);
}
if (failed.length) {
  console.error(`\nbench: failed: ${failed.join(', ')}`);
  process.exit(1);
}
