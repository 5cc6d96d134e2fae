-- RFC 8628 device authorization requests: found by the device code's hash (polling) or by the
-- user code (the verification page). Purged once expired.
CREATE TABLE device_codes (
    device_code_hash TEXT PRIMARY KEY,
    user_code        TEXT NOT NULL UNIQUE,
    client_id        TEXT NOT NULL,
    scope            TEXT NOT NULL,
    status           TEXT NOT NULL,
    payload          TEXT,
    grant_id         TEXT NOT NULL,
    poll_interval    BIGINT NOT NULL,
    last_polled_at   BIGINT,
    expires_at       BIGINT NOT NULL
);
CREATE INDEX device_codes_expiry ON device_codes (expires_at);
