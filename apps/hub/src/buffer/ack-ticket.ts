/** Why readings a producer was waiting on will not become durable: it is to resend them (no 202, no PUBACK). */
export class NotDurableError extends Error {
  constructor(readonly reason: 'evicted' | 'spool_full' | 'shutdown' | 'timeout') {
    super(
      {
        evicted: 'the hub buffer overflowed before these readings were stored; resend them',
        spool_full: 'Redis is away and the spool is full; resend later',
        shutdown: 'the hub is shutting down with these readings unstored; resend them',
        timeout: 'these readings are not yet stored (Redis is slow or away); resend them',
      }[reason],
    );
    this.name = 'NotDurableError';
  }
}

/**
 * One producer's wait for its readings to be durable — in Redis (the LPUSH reply received) or fsync'd to the
 * spool — before the hub acknowledges them (HTTP 202, MQTT PUBACK). The buffer keeps a reference to the ticket
 * beside each reading; the publisher settles a reading once the task that carries it is durable, and fails the
 * ticket when one of its readings is lost instead (evicted, refused by a full spool, left at shutdown). `done`
 * resolves when every reading is settled, or rejects with a NotDurableError at the first loss.
 */
export class AckTicket {
  readonly done: Promise<void>;
  private left: number;
  private resolve!: () => void;
  private reject!: (err: NotDurableError) => void;
  private finished = false;

  constructor(
    readings: number,
    /** An eager producer cannot send more until this is settled (one MQTT message at a time): flush at once. */
    readonly eager = false,
  ) {
    this.left = readings;
    this.done = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.done.catch(() => {}); // a producer that stopped waiting (timed out) must not leave an unhandled rejection
    if (readings === 0) this.finish();
  }

  get isFinished(): boolean {
    return this.finished;
  }

  /** `n` of its readings are durable. */
  settle(n = 1): void {
    if (this.finished) return;
    this.left -= n;
    if (this.left <= 0) this.finish();
  }

  /** One of its readings will never be durable: the producer must resend. */
  fail(reason: NotDurableError['reason']): void {
    if (this.finished) return;
    this.finished = true;
    this.reject(new NotDurableError(reason));
  }

  private finish(): void {
    this.finished = true;
    this.resolve();
  }
}

/** Settles every reading's ticket in `tickets` (one entry per reading; undefined for readings nobody waits on). */
export function settleAll(tickets: ReadonlyArray<AckTicket | undefined>): void {
  for (const t of tickets) t?.settle(1);
}

/** Fails every ticket in `tickets` (one entry per reading: a ticket fails once, however often it appears). */
export function failAll(tickets: ReadonlyArray<AckTicket | undefined>, reason: NotDurableError['reason']): void {
  for (const t of tickets) t?.fail(reason);
}
