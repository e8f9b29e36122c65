-- Raw readings, one row per event_id (the idempotency key: a resend or a retry inserts nothing).
-- Partitioned by day of event time since migration 5.

CREATE TABLE readings (
  event_id       uuid             PRIMARY KEY,
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
  stored_at      timestamptz      NOT NULL DEFAULT now()
);
CREATE INDEX readings_device_metric_time ON readings (device_id, metric, event_time DESC);
