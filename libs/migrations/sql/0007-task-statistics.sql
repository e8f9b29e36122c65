-- Per-batch statistics of `telemetry.analyze` tasks: one row per task and metric (count, devices, min, max, mean,
-- sample standard deviation, event-time span). Partitioned by day of the task's `created_at` — what its producer
-- stamped, the same on every delivery — so a retried task finds its rows again (the primary key) and retention
-- drops whole days as it does for raw readings. Partitions are created on demand (store/partitions.ts).

CREATE TABLE task_statistics (
  task_id text NOT NULL,
  created_at timestamptz NOT NULL,
  metric text NOT NULL,
  readings integer NOT NULL,
  devices integer NOT NULL,
  min double precision NOT NULL,
  max double precision NOT NULL,
  mean double precision NOT NULL,
  stddev double precision,
  first_event_time timestamptz NOT NULL,
  last_event_time timestamptz NOT NULL,
  PRIMARY KEY (task_id, created_at, metric)
) PARTITION BY RANGE (created_at);
