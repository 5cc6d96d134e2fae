-- Browser flows: users, sessions, pending interactions, authorization codes, consents,
-- and the grant/token columns that user grants and refresh-token rotation need.

CREATE TABLE users (
    user_id       TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    -- OpenID standard claims (and `active`), JSON.
    claims        TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

-- A browser session. `session_id` is the public `sid`; the cookie holds a different random
-- value, stored only as its SHA-256.
CREATE TABLE sessions (
    session_id   TEXT PRIMARY KEY,
    cookie_hash  TEXT NOT NULL UNIQUE,
    user_id      TEXT NOT NULL REFERENCES users (user_id),
    auth_time    BIGINT NOT NULL,
    acr          TEXT NOT NULL,
    amr          TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- The clients that received tokens in a session (for logout).
CREATE TABLE session_clients (
    session_id TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    PRIMARY KEY (session_id, client_id)
);

-- An authorization request waiting for the user to log in or consent.
CREATE TABLE pending_authorizations (
    request_id   TEXT PRIMARY KEY,
    browser_hash TEXT NOT NULL,
    csrf         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX pending_authorizations_expiry ON pending_authorizations (expires_at);

-- Issued authorization codes (by SHA-256 of the code). `used_at` makes them single use.
CREATE TABLE authorization_codes (
    code_hash  TEXT PRIMARY KEY,
    grant_id   TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    payload    TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX authorization_codes_expiry ON authorization_codes (expires_at);

-- Remembered consent: the scopes a user granted a client.
CREATE TABLE consents (
    user_id    TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    scope      TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);

ALTER TABLE grants ADD COLUMN user_id TEXT;
ALTER TABLE grants ADD COLUMN session_id TEXT;
ALTER TABLE grants ADD COLUMN auth_context TEXT;
-- Set when a refresh token is exchanged (rotated); a second exchange is a replay.
ALTER TABLE tokens ADD COLUMN consumed_at BIGINT;
