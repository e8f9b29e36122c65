import type pg from 'pg';
import { ROLLUP_TABLES } from './rollup.repo.js';

/**
 * Time-partitioned tables and their partitions. Raw readings are split by day and rollups by month (UTC), so that
 * retention drops whole partitions instead of deleting rows. Partitions are named `<table>_p<YYYYMMDD>` (day) or
 * `<table>_p<YYYYMM>` (month); only partitions named so are ours to create and drop — a partition a DBA attached
 * by hand (or pg_partman's) is left alone.
 */
export interface PartitionScheme {
  table: string;
  unit: 'day' | 'month';
}

export const PARTITIONED_TABLES = {
  readings: { table: 'readings', unit: 'day' },
  rollups_1m: { table: ROLLUP_TABLES['1m'], unit: 'month' },
  rollups_1h: { table: ROLLUP_TABLES['1h'], unit: 'month' },
  task_statistics: { table: 'task_statistics', unit: 'day' },
} as const satisfies Record<string, PartitionScheme>;

export const ROLLUP_SCHEMES: readonly PartitionScheme[] = Object.values(ROLLUP_TABLES).map((table) => ({
  table,
  unit: 'month',
}));

export type Partition = ReturnType<typeof partitionFor>;

const DAY_MS = 86_400_000;

/** The partition that holds time `ms`: its name and its range [from, to). */
export function partitionFor(scheme: PartitionScheme, ms: number): { name: string; from: Date; to: Date } {
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  const from = scheme.unit === 'day' ? new Date(Date.UTC(y, m, d.getUTCDate())) : new Date(Date.UTC(y, m, 1));
  const to =
    scheme.unit === 'day'
      ? new Date(from.getTime() + DAY_MS)
      : new Date(Date.UTC(m === 11 ? y + 1 : y, (m + 1) % 12, 1));
  const stamp = from
    .toISOString()
    .slice(0, scheme.unit === 'day' ? 10 : 7)
    .replaceAll('-', '');
  return { name: `${scheme.table}_p${stamp}`, from, to };
}

/** Our partitions of a table (by name), with their ranges, oldest first. */
export async function listPartitions(db: pg.Pool | pg.PoolClient, scheme: PartitionScheme): Promise<Partition[]> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT c.relname AS name
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = $1::regclass
      ORDER BY c.relname`,
    [scheme.table],
  );
  const pattern = new RegExp(`^${scheme.table}_p(\\d{4})(\\d{2})(\\d{2})?$`);
  const out: Partition[] = [];
  for (const { name } of rows) {
    const m = pattern.exec(name);
    if (!m || (scheme.unit === 'day') !== (m[3] !== undefined)) continue;
    const p = partitionFor(scheme, Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3] ?? 1)));
    if (p.name === name) out.push(p);
  }
  return out;
}

/**
 * pg error codes a losing racer gets when two replicas create the same partition at once: duplicate table, or
 * (when both passed the catalogue check together) a unique violation in pg_type.
 */
const ALREADY_CREATED = new Set(['42P07', '23505']);

/** Told of every partition a manager creates or drops (for metrics). */
export interface PartitionEvents {
  onCreated?(table: string, partition: string): void;
  onDropped?(table: string, partition: string): void;
}

/**
 * Creates and drops partitions. Creating or dropping one locks its parent table, so callers create them outside
 * the transaction that writes rows (a long transaction must never hold that lock) and ahead of time where they
 * can. Remembers the partitions it has seen, so the hot path costs one Set lookup per distinct day.
 */
export class PartitionManager {
  private readonly known = new Set<string>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly events: PartitionEvents = {},
  ) {}

  /** Makes sure the partitions holding each of these times exist; returns the names it created. */
  async ensure(scheme: PartitionScheme, times: readonly number[]): Promise<string[]> {
    const created: string[] = [];
    for (const p of this.missing(scheme, times)) {
      if (await this.create(scheme, p)) created.push(p.name);
      this.known.add(p.name);
    }
    return created;
  }

  /**
   * The partitions these times fall in that are not known to exist. Not in the async caller: a loop over a batch's
   * tens of thousands of times there cost an iterator result each.
   */
  private missing(scheme: PartitionScheme, times: readonly number[]): Partition[] {
    const wanted = new Map<string, Partition>();
    let lastFrom = NaN;
    let lastTo = NaN;
    for (let i = 0; i < times.length; i++) {
      const ms = times[i]!;
      if (ms >= lastFrom && ms < lastTo) continue; // most batches are one day: skip the date maths
      const p = partitionFor(scheme, ms);
      lastFrom = p.from.getTime();
      lastTo = p.to.getTime();
      if (!this.known.has(p.name)) wanted.set(p.name, p);
    }
    return [...wanted.values()];
  }

  /**
   * Drops a partition, waiting at most `lockTimeoutMs` for its parent's lock (in-flight inserts hold it): a long
   * wait would queue every insert behind the DROP. Throws PostgreSQL's lock timeout (55P03) when it gives up.
   */
  async drop(scheme: PartitionScheme, p: Partition, lockTimeoutMs: number): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      await client.query(`SET LOCAL lock_timeout = '${Math.max(1, Math.floor(lockTimeoutMs))}ms'`);
      await client.query(`DROP TABLE IF EXISTS ${p.name}`);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
    this.known.delete(p.name);
    this.events.onDropped?.(scheme.table, p.name);
  }

  /** Forgets every partition (another replica may have dropped some), so ensure() looks at the catalogue again. */
  forgetAll(): void {
    this.known.clear();
  }

  private async create(scheme: PartitionScheme, p: Partition): Promise<boolean> {
    // Looked up first: CREATE … PARTITION OF locks the parent even when it then fails, and after a restart every
    // batch asks for partitions that mostly exist already.
    const { rows } = await this.pool.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [
      p.name,
    ]);
    if (rows[0]?.exists) return false;
    try {
      await this.pool.query(
        `CREATE TABLE ${p.name} PARTITION OF ${scheme.table}
           FOR VALUES FROM ('${p.from.toISOString()}') TO ('${p.to.toISOString()}')`,
      );
    } catch (err) {
      if (ALREADY_CREATED.has((err as { code?: string }).code ?? '')) return false; // another replica was first
      throw err;
    }
    this.events.onCreated?.(scheme.table, p.name);
    return true;
  }
}
