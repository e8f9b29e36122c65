/**
 * Token buckets per client: `ratePerSecond` tokens refill continuously up to `burst`; a request costs one. Memory
 * is bounded: past `maxClients` the least recently seen client is forgotten (it starts again with a full bucket).
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
    private readonly maxClients = 10_000,
  ) {}

  /** Takes a token for `client`. Returns 0 when allowed, else the seconds until a token is available. */
  take(client: string): number {
    const t = this.now();
    const b = this.buckets.get(client) ?? { tokens: this.burst, at: t };
    this.buckets.delete(client); // re-insert: Map order is recency order
    b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.ratePerSecond);
    b.at = t;
    this.buckets.set(client, b);
    if (this.buckets.size > this.maxClients) this.buckets.delete(this.buckets.keys().next().value!);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return (1 - b.tokens) / this.ratePerSecond;
  }
}
