-- The side output for readings older than the expiry horizon is named for what they are — expired — so that
-- "late" means one thing only: a reading behind its device's watermark, which is stored and corrects its rollup.

ALTER TABLE late_readings RENAME TO expired_readings;
ALTER TABLE expired_readings RENAME CONSTRAINT late_readings_pkey TO expired_readings_pkey;
ALTER INDEX late_readings_received RENAME TO expired_readings_received;
