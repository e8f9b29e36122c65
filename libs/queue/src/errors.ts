import { AppError, ErrorCodes } from '@telemetryhub/service-kit';

/** `enqueue` refused: the pending list is at its configured depth limit (backpressure, not an outage). */
export class QueueFullError extends AppError {
  constructor(
    readonly queue: string,
    readonly maxDepth?: number,
  ) {
    const limit = maxDepth === undefined ? 'its depth limit' : `its depth limit of ${maxDepth} tasks`;
    super(ErrorCodes.BACKPRESSURE, `queue "${queue}" is at ${limit}`, { retryable: true });
  }
}
