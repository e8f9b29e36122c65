-- Statistical outliers: an exponentially weighted mean and variance per device and metric, kept in PostgreSQL and
-- updated in the same transaction as the raw insert (from the rows it really added), so every replica sees one
-- state and a retried batch folds nothing twice. One row per device and metric: the state is bounded by the fleet.
-- Alerts gain the rule `outlier`.

CREATE TABLE outlier_state (
  device_id  text             NOT NULL,
  metric     text             NOT NULL,
  samples    bigint           NOT NULL,
  mean       double precision NOT NULL,
  variance   double precision NOT NULL,
  updated_at timestamptz      NOT NULL DEFAULT now(),
  PRIMARY KEY (device_id, metric)
);
ALTER TABLE alerts DROP CONSTRAINT alerts_rule_check;
ALTER TABLE alerts ADD CONSTRAINT alerts_rule_check CHECK (rule IN ('max', 'min', 'outlier'));
