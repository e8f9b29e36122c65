import { hashApiKey } from '@telemetryhub/service-kit';
import { UsageError } from '../usage-error.js';

export const HASH_KEY_HELP = `  hash-key <key>                     the SHA-256 to put in the hub's INGEST_API_KEYS (name:<hash>)`;

export function hashKeyCommand(key: string | undefined, out: (line: string) => void): number {
  if (!key) throw new UsageError('hash-key needs the key to hash');
  if (key.length < 16) throw new UsageError('use a key of at least 16 characters (e.g. openssl rand -hex 24)');
  const hash = hashApiKey(key);
  out(hash);
  out(`# INGEST_API_KEYS=<name>:${hash}   (comma-separate several)`);
  return 0;
}
