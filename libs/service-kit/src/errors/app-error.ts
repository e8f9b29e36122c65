/**
 * One registry of coded errors. Every error the system raises on purpose is an AppError with a code; HTTP maps the
 * code to a status in one place (http/problem.ts), the task processor maps `retryable` to retry-or-dead-letter.
 */
export const ErrorCodes = {
  VALIDATION: 'validation_failed',
  INVALID_STATE: 'invalid_state',
  CONFLICT: 'conflict',
  INVALID_JSON: 'invalid_json',
  PAYLOAD_TOO_LARGE: 'payload_too_large',
  UNKNOWN_TYPE: 'unknown_type',
  NOT_FOUND: 'not_found',
  UNAUTHORIZED: 'unauthorized',
  FORBIDDEN: 'forbidden',
  RATE_LIMITED: 'rate_limited',
  BACKPRESSURE: 'backpressure',
  DEPENDENCY_UNAVAILABLE: 'dependency_unavailable',
  CONFIG: 'invalid_config',
  INTERNAL: 'internal',
} as const;
export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export interface AppErrorOptions {
  /** True when trying the same work again later may succeed (connection loss, deadlock). */
  retryable?: boolean;
  cause?: unknown;
}

export class AppError extends Error {
  readonly retryable: boolean;
  constructor(
    readonly code: ErrorCode,
    message: string,
    opts: AppErrorOptions = {},
  ) {
    super(message, { cause: opts.cause });
    this.name = new.target.name;
    this.retryable = opts.retryable ?? false;
  }
}

/** One problem with one field of an input, `path` in dotted/bracket form (`readings[3].value`). */
export interface FieldIssue {
  path: string;
  message: string;
}

/** Input that does not match a schema. Never retryable: the same bytes fail the same way. */
export class ValidationError extends AppError {
  constructor(
    readonly issues: FieldIssue[],
    message = summarizeIssues(issues),
  ) {
    super(ErrorCodes.VALIDATION, message, { retryable: false });
  }
}

export function summarizeIssues(issues: FieldIssue[]): string {
  const shown = issues.slice(0, 5).map((i) => (i.path ? `${i.path}: ${i.message}` : i.message));
  const more = issues.length > 5 ? ` (and ${issues.length - 5} more)` : '';
  return `${shown.join('; ')}${more}`;
}

/** Renders a zod-style path (['readings', 3, 'value']) as `readings[3].value`, with an optional prefix. */
export function formatPath(path: ReadonlyArray<PropertyKey>, prefix = ''): string {
  let out = prefix;
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out;
}
