-- Scopes as seed 001 describes them: a default flag (added to dynamically registered clients) and
-- a creator: `user` (an administrator), `client` (a spontaneous scope, created by the client named
-- in creator_id when it was first granted) or `auto` (UMA).
ALTER TABLE scopes ADD COLUMN is_default BIGINT NOT NULL DEFAULT 0;
ALTER TABLE scopes ADD COLUMN creator TEXT NOT NULL DEFAULT 'user';
ALTER TABLE scopes ADD COLUMN creator_id TEXT;
ALTER TABLE scopes ADD COLUMN updated_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX scopes_creator ON scopes (creator_id);
