-- RFC 7592: SHA-256 of a dynamically registered client's registration access token. NULL for the
-- clients an administrator created, which the client configuration endpoint does not manage.
ALTER TABLE clients ADD COLUMN registration_token_hash TEXT;
-- The OpenID scopes Tessera ships with become seed 001's "default scopes" (offered to dynamically
-- registered clients), unless an administrator has changed them since they were created.
UPDATE scopes SET is_default = 1
    WHERE scope_id IN ('openid', 'profile', 'email', 'address', 'phone', 'offline_access')
      AND creator = 'user' AND updated_at = 0;
