-- paydesk schema for PostgreSQL, version 4: the plugin registry (the SQLite schema's version 11,
-- the same rules). Components are stored by the SHA-256 of their bytes under a unique version
-- name; a tenant runs the one its plugin_sha256 names (NULL: the binary's embedded component),
-- read with the tenant on every call. Each `plugin use` is a rollout recording where every moved
-- tenant came from, which is what a rollback puts back.
CREATE TABLE plugins (
    sha256            TEXT PRIMARY KEY CHECK (length(sha256) = 64),
    version           TEXT NOT NULL UNIQUE CHECK (length(version) BETWEEN 1 AND 64),
    contract_version  TEXT NOT NULL,
    size              BIGINT NOT NULL CHECK (size > 0),
    wasm              BYTEA NOT NULL,
    added_at          BIGINT NOT NULL
);
ALTER TABLE tenants ADD COLUMN plugin_sha256 TEXT REFERENCES plugins (sha256);
CREATE INDEX tenants_by_plugin ON tenants (plugin_sha256) WHERE plugin_sha256 IS NOT NULL;
CREATE TABLE plugin_rollouts (
    id             BIGSERIAL PRIMARY KEY,
    at             BIGINT NOT NULL,
    -- NULL: the embedded component.
    plugin_sha256  TEXT REFERENCES plugins (sha256),
    selection      TEXT NOT NULL,
    undone_at      BIGINT
);
CREATE TABLE plugin_rollout_tenants (
    rollout_id       BIGINT NOT NULL REFERENCES plugin_rollouts (id),
    tenant_id        TEXT NOT NULL REFERENCES tenants (id),
    previous_sha256  TEXT REFERENCES plugins (sha256),
    PRIMARY KEY (rollout_id, tenant_id)
);
