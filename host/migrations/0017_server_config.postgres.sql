-- Run-time configuration (issue 14; config/runtime.rs): the overrides administrators made through
-- the admin API, as one JSON merge patch over the start-up settings, with a revision that every
-- change increments (compare-and-set: no lost update between two administrators). A change bumps
-- the 'config' counter of cache_generations and notifies tessera_cache, so every replica reloads
-- it within a second.
CREATE TABLE server_config (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    overrides TEXT NOT NULL,
    revision BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    updated_by TEXT NOT NULL
);
INSERT INTO server_config (id, overrides, revision, updated_at, updated_by) VALUES (1, '{}', 0, 0, '');
INSERT INTO cache_generations (name, value) VALUES ('config', 0);

CREATE TRIGGER server_config_changed AFTER INSERT OR UPDATE OR DELETE ON server_config
    FOR EACH ROW EXECUTE FUNCTION tessera_cache_changed('config');
