-- 0017 delivery of the template-invalidation outbox: a failed publish is retried later, not at
-- once, so each row carries the earliest time of its next attempt. The relay claims the oldest
-- due pending rows (`FOR UPDATE SKIP LOCKED`) from the partial index below, which holds only the
-- pending rows and so stays small however many delivered rows accumulate.
SET LOCAL ROLE brokerdb_owner;

ALTER TABLE template_invalidation_outbox
    ADD COLUMN next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT date_trunc('milliseconds', now());

CREATE INDEX idx_template_invalidation_outbox_pending_due
    ON template_invalidation_outbox (next_attempt_at, created_at)
    WHERE status = 'pending';

RESET ROLE;
