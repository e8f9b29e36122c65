import { AppError, ErrorCodes } from '@telemetryhub/common';
import type { DevicePseudonymizer } from '../privacy/device-pseudonymizer.js';

/** A failed PostgreSQL call as the API reports it: 503, retryable. */
export const postgresUnavailable = (err: unknown): AppError =>
  new AppError(ErrorCodes.DEPENDENCY_UNAVAILABLE, 'PostgreSQL did not answer', { cause: err, retryable: true });

/** A failed Redis call as the API reports it: 503, retryable. */
export const redisUnavailable = (err: unknown): AppError =>
  new AppError(ErrorCodes.DEPENDENCY_UNAVAILABLE, 'Redis did not answer', { cause: err, retryable: true });

/** The id a device's rows are stored under: its pseudonym with pseudonymisation on, else the id itself. */
export const storedDeviceId = (pseudonymizer: DevicePseudonymizer | undefined, deviceId: string): string =>
  pseudonymizer?.storedDeviceId(deviceId) ?? deviceId;
