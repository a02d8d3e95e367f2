-- paydesk schema, version 6: sign-in under attack and the lifecycle of credentials.
--
-- Sign-in throttling: one counter of consecutive failures per key ('account:…', 'address:…',
-- 'device:…'), shared by every host on the database. Browsers that signed in to an account before
-- hold a device token (stored as its SHA-256) whose attempts are counted apart from strangers'.

CREATE TABLE sign_in_counters (
    key               TEXT PRIMARY KEY,
    failures          INTEGER NOT NULL,
    first_failure_at  INTEGER NOT NULL,
    next_allowed_at   INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
CREATE INDEX sign_in_counters_updated ON sign_in_counters (updated_at);

CREATE TABLE sign_in_devices (
    token_sha256  TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    account       TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
);
CREATE INDEX sign_in_devices_expires ON sign_in_devices (expires_at);

-- Messages a page shows after a redirect: the URL carries only the id; the text is the server's,
-- and only the session that was sent there can read it.
CREATE TABLE flash_messages (
    id              TEXT PRIMARY KEY,
    session_sha256  TEXT NOT NULL,
    text            TEXT NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX flash_messages_created ON flash_messages (created_at);

CREATE INDEX sessions_expires ON sessions (expires_at);

-- API tokens get an id (to revoke one without holding it), an expiry, a revocation time and the
-- time they were last used. SQLite cannot add a primary key to a table: it is rebuilt.
CREATE TABLE api_tokens_v6 (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    token_sha256  TEXT NOT NULL UNIQUE,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    agent_id      INTEGER REFERENCES agents(id),
    user_id       INTEGER REFERENCES users(id),
    label         TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER,
    revoked_at    INTEGER,
    last_used_at  INTEGER,
    CHECK ((agent_id IS NULL) <> (user_id IS NULL))
);
INSERT INTO api_tokens_v6 (token_sha256, tenant_id, agent_id, user_id, label, created_at)
    SELECT token_sha256, tenant_id, agent_id, user_id, label, created_at FROM api_tokens ORDER BY created_at;
DROP TABLE api_tokens;
ALTER TABLE api_tokens_v6 RENAME TO api_tokens;
CREATE INDEX api_tokens_tenant ON api_tokens (tenant_id, id);

-- Agents and portal users can be disabled (no sign-in, no token, no session) and enabled again.
ALTER TABLE agents ADD COLUMN disabled_at INTEGER;
ALTER TABLE users ADD COLUMN disabled_at INTEGER;
