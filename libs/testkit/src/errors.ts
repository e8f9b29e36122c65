/** A program the stack needs is missing and could not be installed here; `hint` says what the user should do. */
export class MissingDependencyError extends Error {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(`${message}\n  → ${hint}`);
    this.name = 'MissingDependencyError';
  }
}

/** A server did not start or become ready in time; `log` holds the tail of what it printed. */
export class ServerStartError extends Error {
  constructor(
    message: string,
    readonly log: string,
  ) {
    super(log ? `${message}\n--- server output (tail) ---\n${log}` : message);
    this.name = 'ServerStartError';
  }
}
