-- Hardening: per-address bounds on unfinished sign-ins, claims in remembered consent, and the
-- RFC 8707 resources a user grant was authorized for.

-- The client IP address that started a pending sign-in (the per-address cap counts these).
ALTER TABLE pending_authorizations ADD COLUMN client_ip TEXT;
CREATE INDEX pending_authorizations_ip ON pending_authorizations (client_ip, expires_at);

-- Claims the user consented to individually (the OpenID `claims` parameter), space-separated.
ALTER TABLE consents ADD COLUMN claims TEXT;

-- RFC 8707 resources the user authorized (JSON array); token requests may only narrow them.
ALTER TABLE grants ADD COLUMN resources TEXT;
