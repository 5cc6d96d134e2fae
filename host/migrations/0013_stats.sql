-- The stat endpoint's counts (Janssen's stat service). Tokens issued per month, client, grant
-- type and kind, added to by every replica. Monthly active users as HyperLogLog registers, one
-- row per month and replica (each replica replaces only its own row; readers merge them).
CREATE TABLE stat_tokens (
    month      TEXT NOT NULL,
    client_id  TEXT NOT NULL,
    grant_type TEXT NOT NULL,
    kind       TEXT NOT NULL,
    count      BIGINT NOT NULL,
    PRIMARY KEY (month, client_id, grant_type, kind)
);
CREATE TABLE stat_users (
    month     TEXT NOT NULL,
    replica   TEXT NOT NULL,
    registers TEXT NOT NULL,
    PRIMARY KEY (month, replica)
);
