-- Portable between SQLite and PostgreSQL: TEXT and BIGINT only; booleans live in JSON metadata;
-- times are Unix seconds.
CREATE TABLE clients (
    client_id     TEXT PRIMARY KEY,
    secret_hash   TEXT,
    secret_sealed TEXT,
    metadata      TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

CREATE TABLE scopes (
    scope_id    TEXT PRIMARY KEY,
    scope_type  TEXT NOT NULL,
    description TEXT NOT NULL,
    claims      TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE grants (
    grant_id   TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    subject    TEXT,
    grant_type TEXT NOT NULL,
    scope      TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX grants_client ON grants (client_id);

CREATE TABLE tokens (
    token_hash TEXT PRIMARY KEY,
    grant_id   TEXT NOT NULL REFERENCES grants (grant_id),
    kind       TEXT NOT NULL,
    format     TEXT NOT NULL,
    jti        TEXT UNIQUE,
    client_id  TEXT NOT NULL,
    subject    TEXT,
    scope      TEXT NOT NULL,
    audience   TEXT NOT NULL,
    issued_at  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX tokens_grant ON tokens (grant_id);
CREATE INDEX tokens_expiry ON tokens (expires_at);

CREATE TABLE signing_keys (
    kid         TEXT PRIMARY KEY,
    alg         TEXT NOT NULL,
    status      TEXT NOT NULL,
    private_key TEXT NOT NULL,
    public_jwk  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    retire_at   BIGINT
);

-- Server-wide values: counters other replicas watch, dynamic configuration.
CREATE TABLE configuration (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO configuration (name, value) VALUES ('keys_generation', '0');

-- Client assertion ids seen, to refuse replays until the assertion would have expired anyway.
CREATE TABLE used_assertions (
    assertion_key TEXT PRIMARY KEY,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX used_assertions_expiry ON used_assertions (expires_at);

INSERT INTO scopes (scope_id, scope_type, description, claims, created_at) VALUES
    ('openid', 'openid', 'Authenticate using OpenID Connect.', '[]', 0),
    ('profile', 'openid', 'View your basic profile info.', '["name","family_name","given_name","middle_name","nickname","preferred_username","profile","picture","website","gender","birthdate","zoneinfo","locale","updated_at"]', 0),
    ('email', 'openid', 'View your email address.', '["email","email_verified"]', 0),
    ('address', 'openid', 'View your address.', '["address"]', 0),
    ('phone', 'openid', 'View your phone number.', '["phone_number","phone_number_verified"]', 0),
    ('offline_access', 'openid', 'Keep access while you are away.', '[]', 0);
