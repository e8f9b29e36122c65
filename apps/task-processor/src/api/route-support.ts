import type { RequestHandler } from 'express';
import { AppError, ErrorCodes, apiKeyAuth, type ApiKeyEntry } from '@telemetryhub/service-kit';
import { classifyDbError } from '../store/pg-errors.js';
import type { DevicePseudonymizer } from '../privacy/device-pseudonymizer.js';

/** A failed PostgreSQL call as the API reports it: 503, retryable. */
export const postgresUnavailable = (err: unknown): AppError =>
  new AppError(ErrorCodes.DEPENDENCY_UNAVAILABLE, 'PostgreSQL did not answer', { cause: err, retryable: true });

/** A failed Redis call as the API reports it: 503, retryable. */
export const redisUnavailable = (err: unknown): AppError =>
  new AppError(ErrorCodes.DEPENDENCY_UNAVAILABLE, 'Redis did not answer', { cause: err, retryable: true });

/**
 * `work`'s result; a failure of PostgreSQL under it becomes the API's 503 (an AppError it raised passes as is) —
 * unless PostgreSQL answered that a value of the request is wrong (a data error: a parameter it cannot hold),
 * which is the client's 400, not an outage.
 */
export const fromPostgres = <T>(work: Promise<T>): Promise<T> =>
  work.catch((err: unknown) => {
    if (err instanceof AppError) throw err;
    if (classifyDbError(err) === 'data') {
      throw new AppError(ErrorCodes.VALIDATION, `a parameter is out of range: ${(err as Error).message}`);
    }
    throw postgresUnavailable(err);
  });

/**
 * The guard of the routes that change things (the admin API): an ADMIN_API_KEYS key, or 403 when none is
 * configured (the admin API is off) — never open, as the read API is without keys.
 */
export function adminGuard(adminKeys: readonly ApiKeyEntry[] | undefined): RequestHandler[] {
  const keys = adminKeys ?? [];
  const off: RequestHandler = (_req, _res, next) => {
    if (keys.length === 0) {
      throw new AppError(ErrorCodes.FORBIDDEN, 'the admin API is off: set ADMIN_API_KEYS on the task-processor');
    }
    next();
  };
  return [off, apiKeyAuth(keys, () => {})];
}

/** As fromPostgres, for Redis. */
export const fromRedis = <T>(work: Promise<T>): Promise<T> =>
  work.catch((err: unknown) => {
    throw err instanceof AppError ? err : redisUnavailable(err);
  });

/** The id a device's rows are stored under: its pseudonym with pseudonymisation on, else the id itself. */
export const storedDeviceId = (pseudonymizer: DevicePseudonymizer | undefined, deviceId: string): string =>
  pseudonymizer?.storedDeviceId(deviceId) ?? deviceId;
