-- Minute rollups are sealed from the raw readings once their minute is over, instead of upserted by every fold: a
-- fold of a large fleet upserted a minute row per series it saw — nearly one row write per reading — and the same
-- row again at every fold within its minute.
--
-- `readings.in_rollups` says whether a reading counts in the rollups (its task type rolls up: telemetry.analyze and
-- telemetry.aggregate do, telemetry.store and the alert-only types do not). Rows from before this column are
-- false: their minutes were upserted by the processor that stored them, as a processor of an older version still
-- does during a rolling upgrade — and since a seal adds to a minute's row, never replaces it, such a processor's
-- upsert and the seal each count their own readings once.
--
-- `rollup_seals` gains the '1m' row: minutes before it are in `rollups_1m`; later ones are computed from their raw
-- readings when read (`rollups_1m_open`), and sealed from them once over (store/rollup-sealer.ts). A batch storing
-- readings of a minute not yet sealed holds that minute's advisory lock shared until it commits, and records in its
-- ledger row where the seal stood (`fold_pending.minutes_sealed_before`): its fold upserts only the readings of
-- minutes sealed before it (late readings); the others are counted by the seal, which takes a minute's lock alone
-- and so reads every batch of that minute committed. An hour is sealed only once all its minutes are.
--
-- The BRIN index finds a minute's raw rows for its seal (raw rows arrive about in time order); autosummarize keeps
-- the unsummarised tail, which every scan reads, short.

ALTER TABLE readings ADD COLUMN in_rollups boolean NOT NULL DEFAULT false;
CREATE INDEX readings_event_time_brin ON readings USING brin (event_time) WITH (autosummarize = on);

ALTER TABLE fold_pending ADD COLUMN minutes_sealed_before timestamptz;

INSERT INTO rollup_seals VALUES ('1m', date_trunc('minute', now(), 'UTC'));

-- Count, sum, min and max of the minute's readings; m2 (the sum of squared deviations from the mean, as the fold's
-- Welford update gives it) as count × population variance, NULL when a value lies outside the storable magnitude
-- (the fold's upsert does the same).
CREATE VIEW rollups_1m_open AS
  SELECT device_id, metric, date_trunc('minute', event_time, 'UTC') AS bucket, count(*) AS count,
         sum(value) AS sum, min(value) AS min, max(value) AS max,
         CASE WHEN max(abs(value)) <= 1e100::float8 THEN var_pop(value) * count(*) END AS m2
    FROM readings
   WHERE in_rollups
     AND event_time >= (SELECT sealed_before FROM rollup_seals WHERE granularity = '1m')
   GROUP BY device_id, metric, date_trunc('minute', event_time, 'UTC');

CREATE VIEW rollups_1m_all AS
  SELECT device_id, metric, bucket, count, sum, min, max, m2
    FROM rollups_1m
   WHERE bucket < (SELECT sealed_before FROM rollup_seals WHERE granularity = '1m')
  UNION ALL
  SELECT device_id, metric, bucket, count, sum, min, max, m2 FROM rollups_1m_open;

-- The open hours now read their minutes through `rollups_1m_all` (the current hour's latest minutes are open).
CREATE OR REPLACE VIEW rollups_1h_open AS
  SELECT device_id, metric, hour AS bucket, sum(count)::bigint AS count, sum(sum) AS sum, min(min) AS min,
         max(max) AS max,
         CASE WHEN bool_and(m2 IS NOT NULL) AND max(abs(sum / count)) <= 1e100::float8
              THEN sum(m2 + count * (sum / count - hour_sum / hour_count) ^ 2)
         END AS m2
    FROM (SELECT m.device_id, m.metric, m.count, m.sum, m.min, m.max, m.m2,
                 date_trunc('hour', m.bucket, 'UTC') AS hour,
                 sum(m.sum) OVER hour_of AS hour_sum,
                 (sum(m.count) OVER hour_of)::float8 AS hour_count
            FROM rollups_1m_all m
           WHERE m.bucket >= (SELECT sealed_before FROM rollup_seals WHERE granularity = '1h')
          WINDOW hour_of AS (PARTITION BY m.device_id, m.metric, date_trunc('hour', m.bucket, 'UTC'))) minutes
   GROUP BY device_id, metric, hour;
