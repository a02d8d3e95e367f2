-- paydesk schema, version 9: several hosts (or processes) on one database share the work.
--
-- Leases: a piece of work of a tenant (`autopay:YYYY-MM-DD`, its daily run for that day) is done
-- by the holder of its lease; a holder that dies stops renewing it, and once it has run out
-- another holder takes the work over. A finished piece is not taken again by the scheduler.
CREATE TABLE work_leases (
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    work         TEXT NOT NULL,
    holder       TEXT NOT NULL,
    expires_at   INTEGER NOT NULL,
    finished_at  INTEGER,
    PRIMARY KEY (tenant_id, work)
);

-- The outbox: a host takes queued messages for a while before sending them, so two hosts never
-- send one message at once.
ALTER TABLE email_outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE email_outbox ADD COLUMN claimed_until INTEGER;

-- Stripe's rate limit per account (the SHA-256 of its secret key, shortened), for every process
-- on the database together: requests are spaced, each taking the next free moment (Unix
-- microseconds).
CREATE TABLE stripe_pacing (
    account  TEXT PRIMARY KEY,
    next_at  INTEGER NOT NULL
);
