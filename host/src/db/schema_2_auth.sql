-- paydesk schema, version 2: API credentials. A token is stored only as its SHA-256; it belongs to
-- one agent or one portal user of one tenant.

CREATE TABLE api_tokens (
    token_sha256  TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    agent_id      INTEGER REFERENCES agents(id),
    user_id       INTEGER REFERENCES users(id),
    label         TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    CHECK ((agent_id IS NULL) <> (user_id IS NULL))
);
