-- Revocation narrower than a grant: "revoke every access token (or refresh token) of a client"
-- (token_type_hint=all with a type) marks the tokens themselves.
ALTER TABLE tokens ADD COLUMN revoked_at BIGINT;
CREATE INDEX tokens_client ON tokens (client_id, kind);
CREATE INDEX grants_user ON grants (user_id);
