-- RFC 9449: the thumbprint of the DPoP key a token is bound to (NULL: a bearer token).
ALTER TABLE tokens ADD COLUMN jkt TEXT;
