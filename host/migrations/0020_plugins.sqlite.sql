-- Plugins deployed through the admin API (issue 14, seed 001 deployment): the component, its
-- manifest and checksum, stored so that every replica loads it. Each server writes the stored
-- plugins into its plugin directory and reloads; a change bumps the 'plugins' counter of
-- cache_generations, which running servers poll.
CREATE TABLE plugins (
    name TEXT PRIMARY KEY,
    manifest TEXT NOT NULL,
    wasm BLOB NOT NULL,
    sha256 TEXT NOT NULL,
    version TEXT NOT NULL,
    hook TEXT NOT NULL,
    uploaded_at BIGINT NOT NULL,
    uploaded_by TEXT NOT NULL
);
INSERT INTO cache_generations (name, value) VALUES ('plugins', 0);

CREATE TRIGGER plugins_inserted AFTER INSERT ON plugins BEGIN
    UPDATE cache_generations SET value = value + 1 WHERE name = 'plugins';
END;
CREATE TRIGGER plugins_updated AFTER UPDATE ON plugins BEGIN
    UPDATE cache_generations SET value = value + 1 WHERE name = 'plugins';
END;
CREATE TRIGGER plugins_deleted AFTER DELETE ON plugins BEGIN
    UPDATE cache_generations SET value = value + 1 WHERE name = 'plugins';
END;
