-- Time partitioning, so that retention drops whole partitions (no DELETE, no bloat, no vacuum storm):
-- raw readings by day of event time, rollups by month of bucket (UTC). Existing rows move into partitions
-- created for the days and months they hold; later partitions are created ahead of time and on demand by the
-- processor (store/partitions.ts).
--
-- A partitioned table's unique keys must contain its partition key, so the raw key becomes (event_id,
-- event_time): a resend of an event (same id, same time) is still skipped; an id reused with a different event
-- time is a different row (docs/guarantees.md).
--
-- `late_readings` is the side output for readings older than the late horizon (by default the raw retention):
-- kept, with the reason, to be inspected and replayed — never dropped without a trace.

ALTER TABLE readings RENAME TO readings_unpartitioned;
ALTER TABLE readings_unpartitioned RENAME CONSTRAINT readings_pkey TO readings_unpartitioned_pkey;
ALTER INDEX readings_device_metric_time RENAME TO readings_unpartitioned_device_metric_time;
ALTER TABLE rollups_1m RENAME TO rollups_1m_unpartitioned;
ALTER TABLE rollups_1m_unpartitioned RENAME CONSTRAINT rollups_1m_pkey TO rollups_1m_unpartitioned_pkey;
ALTER TABLE rollups_1h RENAME TO rollups_1h_unpartitioned;
ALTER TABLE rollups_1h_unpartitioned RENAME CONSTRAINT rollups_1h_pkey TO rollups_1h_unpartitioned_pkey;

CREATE TABLE readings (
  event_id       uuid             NOT NULL,
  device_id      text             NOT NULL,
  metric         text             NOT NULL,
  event_time     timestamptz      NOT NULL,
  value          double precision NOT NULL,
  unit           text,
  site           text,
  region         text,
  firmware       text,
  schema_version smallint         NOT NULL,
  sequence_id    bigint,
  task_id        text,
  stored_at      timestamptz      NOT NULL DEFAULT now(),
  PRIMARY KEY (event_id, event_time)
) PARTITION BY RANGE (event_time);
CREATE INDEX readings_device_metric_time ON readings (device_id, metric, event_time DESC);

CREATE TABLE rollups_1m (
  device_id text             NOT NULL,
  metric    text             NOT NULL,
  bucket    timestamptz      NOT NULL,
  count     bigint           NOT NULL,
  sum       double precision NOT NULL,
  min       double precision NOT NULL,
  max       double precision NOT NULL,
  PRIMARY KEY (device_id, metric, bucket)
) PARTITION BY RANGE (bucket);
CREATE TABLE rollups_1h (LIKE rollups_1m INCLUDING ALL) PARTITION BY RANGE (bucket);

DO $$
DECLARE
  t record;
  u timestamp;
BEGIN
  FOR t IN SELECT * FROM (VALUES ('readings', 'event_time', 'day', 'YYYYMMDD'),
                                 ('rollups_1m', 'bucket', 'month', 'YYYYMM'),
                                 ('rollups_1h', 'bucket', 'month', 'YYYYMM')) AS v (tbl, col, unit, stamp)
  LOOP
    FOR u IN EXECUTE format('SELECT DISTINCT date_trunc(%L, %I AT TIME ZONE ''UTC'') FROM %I',
                            t.unit, t.col, t.tbl || '_unpartitioned')
    LOOP
      EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                     t.tbl || '_p' || to_char(u, t.stamp), t.tbl,
                     u AT TIME ZONE 'UTC', (u + ('1 ' || t.unit)::interval) AT TIME ZONE 'UTC');
    END LOOP;
    EXECUTE format('INSERT INTO %I SELECT * FROM %I', t.tbl, t.tbl || '_unpartitioned');
    EXECUTE format('DROP TABLE %I', t.tbl || '_unpartitioned');
  END LOOP;
END $$;

CREATE TABLE late_readings (
  event_id    uuid        PRIMARY KEY,
  device_id   text        NOT NULL,
  metric      text        NOT NULL,
  event_time  timestamptz NOT NULL,
  reason      text        NOT NULL,
  task_id     text,
  reading     jsonb       NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX late_readings_received ON late_readings (received_at);
