-- paydesk schema, version 10: a tenant's own limits, each NULL for the platform's default
-- (configuration). Read with the tenant on every plugin call, so every host sees a change at
-- its next call.
ALTER TABLE tenants ADD COLUMN limit_memory_bytes INTEGER CHECK (limit_memory_bytes > 0);
ALTER TABLE tenants ADD COLUMN limit_fuel INTEGER CHECK (limit_fuel > 0);
ALTER TABLE tenants ADD COLUMN limit_deadline_ms INTEGER CHECK (limit_deadline_ms > 0);
ALTER TABLE tenants ADD COLUMN limit_instances INTEGER CHECK (limit_instances > 0);
ALTER TABLE tenants ADD COLUMN limit_stripe_requests_per_second INTEGER
    CHECK (limit_stripe_requests_per_second > 0);
