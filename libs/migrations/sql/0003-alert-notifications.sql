-- Outbox of alert webhooks: a row per alert change and URL, written in the same transaction as the change, so a
-- notification is neither lost (crash after commit) nor invented (rollback). The dispatcher claims due rows with
-- a lease (`next_attempt_at` pushed ahead), so replicas never send the same row at once.

CREATE TABLE alert_notifications (
  id              bigserial   PRIMARY KEY,
  alert_id        bigint      NOT NULL REFERENCES alerts (id),
  url             text        NOT NULL,
  payload         jsonb       NOT NULL,
  attempts        integer     NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  delivered_at    timestamptz,
  gave_up_at      timestamptz,
  last_error      text,
  created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_notifications_due ON alert_notifications (next_attempt_at)
  WHERE delivered_at IS NULL AND gave_up_at IS NULL;
