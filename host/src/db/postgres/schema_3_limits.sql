-- paydesk schema for PostgreSQL, version 3: a tenant's own limits, each NULL for the platform's
-- default (the SQLite schema's version 10, the same rules). Read with the tenant on every plugin
-- call, so every host sees a change at its next call.
ALTER TABLE tenants
    ADD COLUMN limit_memory_bytes BIGINT CHECK (limit_memory_bytes > 0),
    ADD COLUMN limit_fuel BIGINT CHECK (limit_fuel > 0),
    ADD COLUMN limit_deadline_ms BIGINT CHECK (limit_deadline_ms > 0),
    ADD COLUMN limit_instances BIGINT CHECK (limit_instances > 0),
    ADD COLUMN limit_stripe_requests_per_second BIGINT CHECK (limit_stripe_requests_per_second > 0);
