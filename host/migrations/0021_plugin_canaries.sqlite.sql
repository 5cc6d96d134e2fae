-- Canary deployments (issue 14): a new version of a deployed plugin that runs in shadow beside
-- the live one on a sampled share of calls; its answers are compared and never used. Promoting
-- moves it into plugins in one transaction; discarding deletes it. A change bumps the 'plugins'
-- counter, which running servers poll.
CREATE TABLE plugin_canaries (
    name TEXT PRIMARY KEY REFERENCES plugins (name) ON DELETE CASCADE,
    manifest TEXT NOT NULL,
    wasm BLOB NOT NULL,
    sha256 TEXT NOT NULL,
    version TEXT NOT NULL,
    hook TEXT NOT NULL,
    sample_percent INTEGER NOT NULL,
    uploaded_at BIGINT NOT NULL,
    uploaded_by TEXT NOT NULL
);

CREATE TRIGGER plugin_canaries_inserted AFTER INSERT ON plugin_canaries BEGIN
    UPDATE cache_generations SET value = value + 1 WHERE name = 'plugins';
END;
CREATE TRIGGER plugin_canaries_updated AFTER UPDATE ON plugin_canaries BEGIN
    UPDATE cache_generations SET value = value + 1 WHERE name = 'plugins';
END;
CREATE TRIGGER plugin_canaries_deleted AFTER DELETE ON plugin_canaries BEGIN
    UPDATE cache_generations SET value = value + 1 WHERE name = 'plugins';
END;
