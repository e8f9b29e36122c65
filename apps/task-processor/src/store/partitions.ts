import type pg from 'pg';

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
  rollups_1m: { table: 'rollups_1m', unit: 'month' },
  rollups_1h: { table: 'rollups_1h', unit: 'month' },
} as const satisfies Record<string, PartitionScheme>;

export const ROLLUP_SCHEMES: readonly PartitionScheme[] = [
  PARTITIONED_TABLES.rollups_1m,
  PARTITIONED_TABLES.rollups_1h,
];

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

/** The start of the partition after the one holding `ms`. */
export function nextPartitionStart(scheme: PartitionScheme, ms: number): number {
  return partitionFor(scheme, ms).to.getTime();
}

/** Our partitions of a table (by name), with their ranges, oldest first. */
export async function listPartitions(
  db: pg.Pool | pg.PoolClient,
  scheme: PartitionScheme,
): Promise<Array<{ name: string; from: Date; to: Date }>> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT c.relname AS name
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = $1::regclass
      ORDER BY c.relname`,
    [scheme.table],
  );
  const pattern = new RegExp(`^${scheme.table}_p(\\d{4})(\\d{2})(\\d{2})?$`);
  const out: Array<{ name: string; from: Date; to: Date }> = [];
  for (const { name } of rows) {
    const m = pattern.exec(name);
    if (!m || (scheme.unit === 'day') !== (m[3] !== undefined)) continue;
    const p = partitionFor(scheme, Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3] ?? 1)));
    if (p.name === name) out.push(p);
  }
  return out;
}

/** pg error codes a losing racer gets when two replicas create the same partition at once. */
const ALREADY_CREATED = new Set(['42P07', '23505']);

/**
 * Creates missing partitions. Creating one locks its parent table briefly, so callers create them outside the
 * transaction that writes rows (a long transaction must never hold that lock) and ahead of time where they can.
 * Remembers the partitions it has seen, so the hot path costs one Set lookup per distinct day.
 */
export class PartitionManager {
  private readonly known = new Set<string>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly onCreated: (table: string, partition: string) => void = () => {},
  ) {}

  /** Makes sure the partitions holding each of these times exist; returns the names it created. */
  async ensure(scheme: PartitionScheme, times: Iterable<number>): Promise<string[]> {
    const wanted = new Map<string, ReturnType<typeof partitionFor>>();
    let lastFrom = NaN;
    let lastTo = NaN;
    for (const ms of times) {
      if (ms >= lastFrom && ms < lastTo) continue; // most batches are one day: skip the date maths
      const p = partitionFor(scheme, ms);
      lastFrom = p.from.getTime();
      lastTo = p.to.getTime();
      if (!this.known.has(p.name)) wanted.set(p.name, p);
    }
    const created: string[] = [];
    for (const p of wanted.values()) {
      if (await this.create(scheme, p)) created.push(p.name);
      this.known.add(p.name);
    }
    return created;
  }

  /** Forgets a partition (after retention dropped it), so that a later ensure() checks the catalogue again. */
  forget(name: string): void {
    this.known.delete(name);
  }

  /** Forgets every partition (another replica may have dropped some). */
  forgetAll(): void {
    this.known.clear();
  }

  private async create(scheme: PartitionScheme, p: ReturnType<typeof partitionFor>): Promise<boolean> {
    try {
      const { rows } = await this.pool.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [
        p.name,
      ]);
      if (rows[0]?.exists) return false;
      await this.pool.query(
        `CREATE TABLE IF NOT EXISTS ${p.name} PARTITION OF ${scheme.table}
           FOR VALUES FROM ('${p.from.toISOString()}') TO ('${p.to.toISOString()}')`,
      );
      this.onCreated(scheme.table, p.name);
      return true;
    } catch (err) {
      if (ALREADY_CREATED.has((err as { code?: string }).code ?? '')) return false;
      throw err;
    }
  }
}
