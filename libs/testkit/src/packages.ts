import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { MissingDependencyError } from './errors.js';

export type Progress = (line: string) => void;

/** Absolute path of `name` on PATH (plus the sbin dirs Debian puts servers in), or null. */
export function findOnPath(name: string): string | null {
  const dirs = (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/usr/bin', '/sbin', '/bin']);
  for (const dir of dirs) {
    const candidate = join(dir, name);
    if (dir && existsSync(candidate)) return candidate;
  }
  return null;
}

/** The newest PostgreSQL server bin dir Debian installed (`/usr/lib/postgresql/<major>/bin`), or null. */
export function findPostgresBinDir(root = '/usr/lib/postgresql'): string | null {
  if (!existsSync(root)) return null;
  const majors = readdirSync(root)
    .filter((d) => /^\d+$/.test(d) && existsSync(join(root, d, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return majors.length ? join(root, majors[0]!, 'bin') : null;
}

const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

/**
 * Installs Debian packages with apt-get when we are root and apt-get exists; otherwise throws a
 * MissingDependencyError that tells the user the one command to run. Waits for a busy dpkg lock (two test files
 * may ask at once) instead of failing.
 */
export function aptInstall(
  packages: string[],
  why: string,
  progress: Progress = () => {},
  asRoot: boolean = isRoot(),
): void {
  const command = `apt-get install -y ${packages.join(' ')}`;
  if (!asRoot) {
    throw new MissingDependencyError(`${why}: ${packages.join(', ')} not installed`, `run: sudo ${command}`);
  }
  if (!findOnPath('apt-get')) {
    throw new MissingDependencyError(
      `${why}: ${packages.join(', ')} not installed and apt-get is not available`,
      `install ${packages.join(', ')} with your system's package manager`,
    );
  }
  progress(`installing ${packages.join(', ')} with apt-get (${why}) …`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const lock = ['-o', 'DPkg::Lock::Timeout=300'];
  const install = () =>
    spawnSync('apt-get', [...lock, 'install', '-y', '--no-install-recommends', ...packages], { env, encoding: 'utf8' });
  let r = install();
  if (r.status !== 0) {
    // A fresh machine often has no package lists yet.
    execFileSync('apt-get', [...lock, 'update'], { env, stdio: 'ignore' });
    r = install();
  }
  if (r.status !== 0) {
    throw new MissingDependencyError(
      `apt-get could not install ${packages.join(', ')}:\n${(r.stderr || r.stdout).slice(-2000)}`,
      `run: ${command}`,
    );
  }
  progress(`installed ${packages.join(', ')}`);
}

/** The path of `binary`, installing the Debian `packages` that provide it when it is missing and we may. */
function ensureBinary(binary: string, packages: string[], why: string, progress?: Progress): string {
  const found = findOnPath(binary);
  if (found) return found;
  aptInstall(packages, why, progress);
  const installed = findOnPath(binary);
  if (!installed) throw new MissingDependencyError(`${binary} still not found after install`, 'check PATH');
  return installed;
}

/** The path of `redis-server`, installing Debian's package when it is missing and we may. */
export function ensureRedisServer(progress?: Progress): string {
  return ensureBinary('redis-server', ['redis-server', 'redis-tools'], 'Redis is needed for the task queue', progress);
}

/** The mosquitto MQTT broker binary (for the hub's MQTT ingest tests), installing Debian's package if we may. */
export function ensureMosquitto(progress?: Progress): string {
  return ensureBinary('mosquitto', ['mosquitto'], 'Mosquitto is needed to test MQTT ingest', progress);
}

/** `socat` (a pseudo-terminal pair stands in for a serial cable in the UART driver's tests), installed if we may. */
export function ensureSocat(progress?: Progress): string {
  return ensureBinary('socat', ['socat'], 'socat is needed to test the serial (UART) driver', progress);
}

/** The `openssl` CLI (tests make throwaway certificates for TLS servers with it), installed if we may. */
export function ensureOpenssl(progress?: Progress): string {
  return ensureBinary('openssl', ['openssl'], 'openssl is needed to make test TLS certificates', progress);
}

/** The PostgreSQL server bin dir, installing Debian's package when it is missing and we may. */
export function ensurePostgresBinDir(progress?: Progress): string {
  const found = findPostgresBinDir();
  if (found) return found;
  aptInstall(['postgresql'], 'PostgreSQL is needed for storage', progress);
  const installed = findPostgresBinDir();
  if (!installed)
    throw new MissingDependencyError('PostgreSQL binaries not found after install', 'check /usr/lib/postgresql');
  return installed;
}
