-- Rollups keep count/sum/min/max, so that averages and coarser windows merge exactly and a late event simply
-- folds into its bucket. Alerts keep their state; at most one firing alert per device, metric and rule.

CREATE TABLE rollups_1m (
  device_id text             NOT NULL,
  metric    text             NOT NULL,
  bucket    timestamptz      NOT NULL,
  count     bigint           NOT NULL,
  sum       double precision NOT NULL,
  min       double precision NOT NULL,
  max       double precision NOT NULL,
  PRIMARY KEY (device_id, metric, bucket)
);
CREATE TABLE rollups_1h (LIKE rollups_1m INCLUDING ALL);

CREATE TABLE alerts (
  id          bigserial        PRIMARY KEY,
  device_id   text             NOT NULL,
  metric      text             NOT NULL,
  rule        text             NOT NULL CHECK (rule IN ('max', 'min')),
  threshold   double precision NOT NULL,
  state       text             NOT NULL CHECK (state IN ('firing', 'resolved')),
  value       double precision NOT NULL,
  event_id    uuid             NOT NULL,
  fired_at    timestamptz      NOT NULL,
  resolved_at timestamptz,
  resolved_value double precision,
  created_at  timestamptz      NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX alerts_one_firing ON alerts (device_id, metric, rule) WHERE state = 'firing';
CREATE INDEX alerts_recent ON alerts (fired_at DESC);
