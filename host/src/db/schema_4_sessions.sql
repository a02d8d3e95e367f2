-- paydesk schema, version 4: sign-in sessions of the web app. A session token is stored only as
-- its SHA-256; each session has its own CSRF token for the forms it is shown.

CREATE TABLE sessions (
    token_sha256  TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    agent_id      INTEGER REFERENCES agents(id),
    user_id       INTEGER REFERENCES users(id),
    csrf          TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    CHECK ((agent_id IS NULL) <> (user_id IS NULL))
);
