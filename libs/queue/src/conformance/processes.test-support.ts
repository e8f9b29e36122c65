import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** A consumer in a process of its own (consumer-child.test-support.ts), as the queue's TLS tests drive it. */
const CHILD = fileURLToPath(new URL('./consumer-child.test-support.ts', import.meta.url));

/**
 * Runs a graceful conformance child (`args` as conformance-child.ts takes them, less the mode): waits for the ids
 * it holds, then asks `whileHolding` to look around, sends SIGTERM and returns its exit code (0: every task held
 * was acked) with the ids it held. Rejects, with the child's stderr, if it exits before it holds anything.
 */
export async function runGracefulConsumer(
  args: { driver: string; url: string; queue: string; batch: number; shards?: number },
  env: NodeJS.ProcessEnv,
  whileHolding: (held: string[]) => Promise<void> = async () => {},
): Promise<{ held: string[]; code: number | null; stderr: string }> {
  const child = spawn(
    process.execPath,
    [
      ...['--import', 'tsx', CHILD, args.driver, args.url, args.queue, '30000', String(args.batch), 'graceful'],
      String(args.shards ?? 1),
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  try {
    const line = await Promise.race([
      new Promise<string>((resolve) => createInterface({ input: child.stdout }).once('line', resolve)),
      exited.then((code) => Promise.reject(new Error(`child exited (${code}): ${stderr}`))),
    ]);
    const held = (JSON.parse(line) as { held: string[] }).held;
    await whileHolding(held);
    child.kill('SIGTERM');
    return { held, code: await exited, stderr };
  } finally {
    child.kill('SIGKILL');
  }
}
