-- The open hours' part of `rollups_1h_all` becomes a view of its own, `rollups_1h_open`, which the seal reads: read
-- through the union, the seal of an hour also filtered the sealed table by bucket — not its index's first column —
-- and so scanned the month's whole partition of hour rows every hour (2.9 million rows took 0.24 s, and a month of
-- 50,000 series is 36 million). `rollups_1h_all` reads the same as before.

CREATE VIEW rollups_1h_open AS
  SELECT device_id, metric, hour AS bucket, sum(count)::bigint AS count, sum(sum) AS sum, min(min) AS min,
         max(max) AS max,
         CASE WHEN bool_and(m2 IS NOT NULL) AND max(abs(sum / count)) <= 1e100::float8
              THEN sum(m2 + count * (sum / count - hour_sum / hour_count) ^ 2)
         END AS m2
    FROM (SELECT m.device_id, m.metric, m.count, m.sum, m.min, m.max, m.m2,
                 date_trunc('hour', m.bucket, 'UTC') AS hour,
                 sum(m.sum) OVER hour_of AS hour_sum,
                 (sum(m.count) OVER hour_of)::float8 AS hour_count
            FROM rollups_1m m
           WHERE m.bucket >= (SELECT sealed_before FROM rollup_seals WHERE granularity = '1h')
          WINDOW hour_of AS (PARTITION BY m.device_id, m.metric, date_trunc('hour', m.bucket, 'UTC'))) minutes
   GROUP BY device_id, metric, hour;

CREATE OR REPLACE VIEW rollups_1h_all AS
  SELECT device_id, metric, bucket, count, sum, min, max, m2
    FROM rollups_1h
   WHERE bucket < (SELECT sealed_before FROM rollup_seals WHERE granularity = '1h')
  UNION ALL
  SELECT device_id, metric, bucket, count, sum, min, max, m2 FROM rollups_1h_open;
