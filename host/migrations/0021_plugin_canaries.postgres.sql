-- Canary deployments (issue 14): a new version of a deployed plugin that runs in shadow beside
-- the live one on a sampled share of calls; its answers are compared and never used. Promoting
-- moves it into plugins in one transaction; discarding deletes it. A change bumps the 'plugins'
-- counter and notifies tessera_cache.
CREATE TABLE plugin_canaries (
    name TEXT PRIMARY KEY REFERENCES plugins (name) ON DELETE CASCADE,
    manifest TEXT NOT NULL,
    wasm BYTEA NOT NULL,
    sha256 TEXT NOT NULL,
    version TEXT NOT NULL,
    hook TEXT NOT NULL,
    sample_percent INTEGER NOT NULL,
    uploaded_at BIGINT NOT NULL,
    uploaded_by TEXT NOT NULL
);

CREATE TRIGGER plugin_canaries_changed AFTER INSERT OR UPDATE OR DELETE ON plugin_canaries
    FOR EACH ROW EXECUTE FUNCTION tessera_cache_changed('plugins');
