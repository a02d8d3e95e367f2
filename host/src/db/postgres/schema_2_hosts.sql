-- paydesk schema for PostgreSQL, version 2: several hosts on one database share the work (the
-- SQLite schema's version 9, the same rules).
--
-- Leases: a piece of work of a tenant (`autopay:YYYY-MM-DD`, its daily run for that day) is done
-- by the holder of its lease; a holder that dies stops renewing it, and once it has run out
-- another holder takes the work over. A finished piece is not taken again by the scheduler.
CREATE TABLE work_leases (
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    work         TEXT NOT NULL,
    holder       TEXT NOT NULL,
    expires_at   BIGINT NOT NULL,
    finished_at  BIGINT,
    PRIMARY KEY (tenant_id, work)
);

-- The outbox: a host takes queued messages for a while (FOR UPDATE SKIP LOCKED) before sending
-- them, so two hosts never send one message at once.
ALTER TABLE email_outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE email_outbox ADD COLUMN claimed_until BIGINT;

-- Stripe's rate limit per account (the SHA-256 of its secret key, shortened), for every host
-- together: requests are spaced, each taking the next free moment (microseconds of the
-- database's clock).
CREATE TABLE stripe_pacing (
    account  TEXT PRIMARY KEY,
    next_at  BIGINT NOT NULL
);
