-- Pushed authorization requests (RFC 9126): a validated request's parameters, kept under the
-- SHA-256 of its one-time request_uri until it is used or expires. `client_ip` is kept for
-- public clients, whose live requests are bounded per address.
CREATE TABLE pushed_requests (
    request_uri_hash TEXT PRIMARY KEY,
    client_id        TEXT NOT NULL,
    params           TEXT NOT NULL,
    expires_at       BIGINT NOT NULL,
    client_ip        TEXT
);
CREATE INDEX pushed_requests_expiry ON pushed_requests (expires_at);
CREATE INDEX pushed_requests_ip ON pushed_requests (client_ip);
