-- Claims that update-token plugins add to reference (opaque) access tokens: kept with the token
-- so that introspection returns them (a JWT access token carries them itself).
ALTER TABLE tokens ADD COLUMN claims TEXT;
