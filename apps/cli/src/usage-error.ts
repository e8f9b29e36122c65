/** The command line is wrong (exit 2), as opposed to the operation failing (exit 1). */
export class UsageError extends Error {
  override name = 'UsageError';
}
