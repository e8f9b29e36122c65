-- Rollups gain `m2`, the sum of squared deviations from the bucket's mean, so that a bucket's standard deviation
-- merges exactly like its count and sum (Chan et al.'s pairwise update) and stays numerically stable for values
-- with a large mean and a small spread (a naive sum of squares would not). Buckets folded before this migration
-- have no `m2` (NULL): their standard deviation is unknown, and stays so as later readings fold in.

ALTER TABLE rollups_1m ADD COLUMN m2 double precision;
ALTER TABLE rollups_1h ADD COLUMN m2 double precision;
