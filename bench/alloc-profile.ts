/**
 * What a process allocates, not only what is still alive: V8's sampling heap profiler with the objects the
 * collector freed counted too (`--heap-prof` alone writes only what survives to the end, which says nothing about
 * how often the young generation is collected). Load it before a bench, e.g.
 *
 *   node --import tsx --import ./bench/alloc-profile.ts bench/processor.bench.ts --events 600000 --rounds 1
 *
 * Sampling starts at the first progress line holding ALLOC_FROM (default "draining") and stops at the first holding
 * ALLOC_UNTIL (default "PostgreSQL CPU") or at exit; the profile goes to `alloc-<pid>.heapprofile` in ALLOC_DIR
 * (default the system's temporary directory). Open it in Chrome DevTools (Memory, load a profile) or sum its nodes'
 * `selfSize` by function.
 */
import inspector from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const from = process.env.ALLOC_FROM ?? 'draining';
const until = process.env.ALLOC_UNTIL ?? 'PostgreSQL CPU';
const session = new inspector.Session();
session.connect();
let state: 'waiting' | 'sampling' | 'written' = 'waiting';

const say = (line: string) => process.stderr.write(line);
const stop = () => {
  if (state !== 'sampling') return;
  state = 'written';
  session.post('HeapProfiler.stopSampling', (err, result) => {
    if (err) return void say(`[alloc] ${err.message}\n`);
    const file = join(process.env.ALLOC_DIR ?? tmpdir(), `alloc-${process.pid}.heapprofile`);
    writeFileSync(file, JSON.stringify(result.profile));
    say(`[alloc] written to ${file}\n`);
  });
};
/** Watches what the bench writes (progress on stderr, results on stdout) for the lines that start and stop it. */
function watch(stream: NodeJS.WriteStream): void {
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  stream.write = ((...args: unknown[]) => {
    const text = String(args[0]);
    if (state === 'waiting' && text.includes(from)) {
      state = 'sampling';
      session.post('HeapProfiler.startSampling', {
        samplingInterval: 16_384,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      });
    } else if (state === 'sampling' && text.includes(until)) stop();
    return write(...args);
  }) as typeof stream.write;
}
watch(process.stdout);
watch(process.stderr);
process.on('exit', stop);
