import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { z } from 'zod';
import { AppError, ErrorCodes } from '../errors/index.js';

/** One configured key: a name (for logs and rate limits, never the key itself) and the SHA-256 of the key. */
export interface ApiKeyEntry {
  name: string;
  sha256: Buffer;
}

/**
 * Parses a key list (the hub's `INGEST_API_KEYS`, the processor's `ADMIN_API_KEYS`): comma-separated
 * `name:sha256hex` (make a hash with `npx telemetryhub hash-key`). `variable` names the list in errors.
 */
export function parseApiKeys(spec: string, variable = 'INGEST_API_KEYS'): ApiKeyEntry[] {
  return spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry) => {
      const [name, hex] = entry.split(':');
      if (!name || !hex || !/^[0-9a-f]{64}$/i.test(hex)) {
        throw new Error(`${variable}: "${entry.slice(0, 20)}…" is not name:sha256-hex`);
      }
      return { name, sha256: Buffer.from(hex, 'hex') };
    });
}

/** A key-list setting (`INGEST_API_KEYS`, `ADMIN_API_KEYS`, …) for a config schema: unset = no keys. */
export const apiKeysSetting = (variable: string) =>
  z
    .string()
    .default('')
    .transform((spec, ctx) => {
      try {
        return parseApiKeys(spec, variable);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message.replace(`${variable}: `, '') });
        return z.NEVER;
      }
    });

/** The presented key: `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
function presentedKey(authorization: string | undefined, xApiKey: string | undefined): string | null {
  if (xApiKey) return xApiKey;
  const m = /^Bearer\s+(.+)$/i.exec(authorization ?? '');
  return m ? m[1]!.trim() : null;
}

/**
 * Finds the key's entry comparing hashes in constant time, and checking every entry whatever matches, so
 * neither the comparison nor the loop tells an attacker how close a guess was.
 */
export function matchApiKey(keys: readonly ApiKeyEntry[], key: string): ApiKeyEntry | null {
  const digest = createHash('sha256').update(key, 'utf8').digest();
  let found: ApiKeyEntry | null = null;
  for (const entry of keys) if (timingSafeEqual(entry.sha256, digest) && !found) found = entry;
  return found;
}

/** 401 problem+json (with WWW-Authenticate) unless the request carries a configured key; sets res.locals.client. */
export function apiKeyAuth(keys: readonly ApiKeyEntry[], onReject: () => void): RequestHandler {
  return (req, res, next) => {
    const key = presentedKey(req.get('authorization'), req.get('x-api-key'));
    const entry = key ? matchApiKey(keys, key) : null;
    if (!entry) {
      onReject();
      res.setHeader('WWW-Authenticate', 'Bearer realm="telemetryhub"');
      throw new AppError(
        ErrorCodes.UNAUTHORIZED,
        key ? 'the API key is not valid' : 'send an API key: Authorization: Bearer <key> or X-API-Key',
      );
    }
    res.locals.client = `key:${entry.name}`;
    next();
  };
}
