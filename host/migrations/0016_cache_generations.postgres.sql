-- Change counters for the in-process cache of clients and scopes (issue 13; store/cache.rs).
-- Every write to clients or scopes, by any process, bumps its counter in the same transaction
-- and notifies channel tessera_cache (delivered at commit); running servers LISTEN to it, poll
-- the counters as a fallback, and drop their cached rows when either moves.
CREATE TABLE cache_generations (name TEXT PRIMARY KEY, value BIGINT NOT NULL);
INSERT INTO cache_generations (name, value) VALUES ('clients', 0), ('scopes', 0);

CREATE FUNCTION tessera_cache_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE cache_generations SET value = value + 1 WHERE name = TG_ARGV[0];
    PERFORM pg_notify('tessera_cache', TG_ARGV[0]);
    RETURN NULL;
END
$$;

CREATE TRIGGER clients_changed AFTER INSERT OR UPDATE OR DELETE ON clients
    FOR EACH ROW EXECUTE FUNCTION tessera_cache_changed('clients');
CREATE TRIGGER scopes_changed AFTER INSERT OR UPDATE OR DELETE ON scopes
    FOR EACH ROW EXECUTE FUNCTION tessera_cache_changed('scopes');
