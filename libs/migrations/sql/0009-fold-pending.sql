-- The fold ledger: one row per committed batch whose readings are stored but not yet folded into the rollups,
-- the outlier state and the device rows (fold/deferred-fold.ts). Written in the batch's own transaction and
-- deleted in the transaction that folds the batch, so each batch is folded exactly once: by the processor that
-- holds it in memory, or — after a crash — from its raw rows, found again by the storing transaction's start
-- (`created_at` = the rows' `stored_at`, both `now()`) and the ids of its tasks.

CREATE TABLE fold_pending (
  batch_id uuid PRIMARY KEY,
  owner text NOT NULL,
  task_ids text[] NOT NULL,
  task_steps int2[] NOT NULL,
  min_time timestamptz NOT NULL,
  max_time timestamptz NOT NULL,
  readings integer NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX fold_pending_created_at ON fold_pending (created_at);
