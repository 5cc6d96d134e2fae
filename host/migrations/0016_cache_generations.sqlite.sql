-- Change counters for the in-process cache of clients and scopes (issue 13; store/cache.rs).
-- Every write to clients or scopes, by any process, bumps its counter in the same transaction;
-- running servers poll the counters and drop their cached rows when they move.
CREATE TABLE cache_generations (name TEXT PRIMARY KEY, value BIGINT NOT NULL);
INSERT INTO cache_generations (name, value) VALUES ('clients', 0), ('scopes', 0);

CREATE TRIGGER clients_inserted AFTER INSERT ON clients BEGIN
    UPDATE cache_generations SET value = value + 1 WHERE name = 'clients';
END;
CREATE TRIGGER clients_updated AFTER UPDATE ON clients BEGIN
    UPDATE cache_generations SET value = value + 1 WHERE name = 'clients';
END;
CREATE TRIGGER clients_deleted AFTER DELETE ON clients BEGIN
    UPDATE cache_generations SET value = value + 1 WHERE name = 'clients';
END;
CREATE TRIGGER scopes_inserted AFTER INSERT ON scopes BEGIN
    UPDATE cache_generations SET value = value + 1 WHERE name = 'scopes';
END;
CREATE TRIGGER scopes_updated AFTER UPDATE ON scopes BEGIN
    UPDATE cache_generations SET value = value + 1 WHERE name = 'scopes';
END;
CREATE TRIGGER scopes_deleted AFTER DELETE ON scopes BEGIN
    UPDATE cache_generations SET value = value + 1 WHERE name = 'scopes';
END;
