import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The `telemetryhub` command as npm installed it for the workspace (node_modules/.bin), found from the working
 * directory up: tests run the CLI as a user does, not by a path into its sources.
 */
export function installedCli(from = process.cwd()): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const bin = join(dir, 'node_modules', '.bin', 'telemetryhub');
    if (existsSync(bin)) return bin;
    if (dirname(dir) === dir) throw new Error(`no node_modules/.bin/telemetryhub above ${from}: run npm ci`);
  }
}

/** Runs `telemetryhub <args>`; resolves with its exit code and output (never rejects). */
export function runCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [installedCli(), ...args], { env, timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
