-- The outlier state is one small row per series, rewritten by every fold that holds readings of the series. With
-- pages left half empty, the rewrite stays on its page (a heap-only update: no new index entry), which halved the
-- update's time and write-ahead log at 50,000 series (benchmarks.md, "Fleet size"). The table stays small: one row
-- per series. Pages already full take the setting as they are rewritten.

ALTER TABLE outlier_state SET (fillfactor = 50);
