-- Identifiers handed out by the ID generation endpoint (Janssen's /id/{prefix}/{type}). Kept,
-- never purged: the primary key is what guarantees that no identifier is issued twice, by any
-- replica sharing the database.
CREATE TABLE generated_ids (
    id        TEXT PRIMARY KEY,
    id_type   TEXT NOT NULL,
    client_id TEXT NOT NULL,
    issued_at BIGINT NOT NULL
);
