import { AppError, ErrorCodes } from '@telemetryhub/common';
import type { DevicePseudonymizer } from '../privacy/device-pseudonymizer.js';

/** A failed PostgreSQL call as the API reports it: 503, retryable. */
export const postgresUnavailable = (err: unknown): AppError =>
  new AppError(ErrorCodes.DEPENDENCY_UNAVAILABLE, 'PostgreSQL did not answer', { cause: err, retryable: true });

/** A failed Redis call as the API reports it: 503, retryable. */
export const redisUnavailable = (err: unknown): AppError =>
  new AppError(ErrorCodes.DEPENDENCY_UNAVAILABLE, 'Redis did not answer', { cause: err, retryable: true });

/** `work`'s result; a failure of PostgreSQL under it becomes the API's 503 (an AppError it raised passes as is). */
export const fromPostgres = <T>(work: Promise<T>): Promise<T> =>
  work.catch((err: unknown) => {
    throw err instanceof AppError ? err : postgresUnavailable(err);
  });

/** As fromPostgres, for Redis. */
export const fromRedis = <T>(work: Promise<T>): Promise<T> =>
  work.catch((err: unknown) => {
    throw err instanceof AppError ? err : redisUnavailable(err);
  });

/** The id a device's rows are stored under: its pseudonym with pseudonymisation on, else the id itself. */
export const storedDeviceId = (pseudonymizer: DevicePseudonymizer | undefined, deviceId: string): string =>
  pseudonymizer?.storedDeviceId(deviceId) ?? deviceId;
