-- Hour rollups are sealed from the minute rollups once their hour is over, instead of upserted by every fold: a
-- fold of a large fleet wrote an hour row per series it saw, as many as its minute rows, dozens of times an hour.
--
-- `rollup_seals` holds, per derived granularity, the instant before which its buckets are sealed (stored in their
-- table). An hour at or after it is not in `rollups_1h`: it is computed from its minute rows when read. Sealing an
-- hour (store/hour-sealer.ts) and a fold reading where the seal stands serialise on an advisory lock, so a fold's
-- readings of an hour reach the hour row exactly once: through the seal's recomputation if the fold committed
-- first, else by the fold's own upsert (a late reading of a sealed hour).
--
-- `rollups_1h_all` is what to read: sealed hours from `rollups_1h`, open ones merged from their minutes (count,
-- sum, min, max add up; m2 by the pairwise update against the hour's mean; NULL when a minute has none or a mean
-- lies outside the storable magnitude, as the fold's upsert does). Filters on device and metric reach both
-- branches' indexes; the BRIN index finds the open minutes to seal without an index on every minute row's bucket
-- (minute rows are written about in time order).
--
-- Starts at the current hour: earlier hours were upserted by every fold and are whole; the current hour's rows,
-- upserted so far, are replaced by its recomputation when it is sealed.

CREATE TABLE rollup_seals (
  granularity   text        PRIMARY KEY,
  sealed_before timestamptz NOT NULL
);
INSERT INTO rollup_seals VALUES ('1h', date_trunc('hour', now(), 'UTC'));

CREATE INDEX rollups_1m_bucket_brin ON rollups_1m USING brin (bucket);

CREATE VIEW rollups_1h_all AS
  SELECT device_id, metric, bucket, count, sum, min, max, m2
    FROM rollups_1h
   WHERE bucket < (SELECT sealed_before FROM rollup_seals WHERE granularity = '1h')
  UNION ALL
  SELECT device_id, metric, hour, sum(count)::bigint, sum(sum), min(min), max(max),
         CASE WHEN bool_and(m2 IS NOT NULL) AND max(abs(sum / count)) <= 1e100::float8
              THEN sum(m2 + count * (sum / count - hour_sum / hour_count) ^ 2)
         END
    FROM (SELECT m.device_id, m.metric, m.count, m.sum, m.min, m.max, m.m2,
                 date_trunc('hour', m.bucket, 'UTC') AS hour,
                 sum(m.sum) OVER hour_of AS hour_sum,
                 (sum(m.count) OVER hour_of)::float8 AS hour_count
            FROM rollups_1m m
           WHERE m.bucket >= (SELECT sealed_before FROM rollup_seals WHERE granularity = '1h')
          WINDOW hour_of AS (PARTITION BY m.device_id, m.metric, date_trunc('hour', m.bucket, 'UTC'))) minutes
   GROUP BY device_id, metric, hour;
