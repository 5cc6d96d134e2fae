-- Software statement assertions (Janssen's SSA) this server issued: looked up by `jti` when a
-- registration presents one, so a revoked or used one-time SSA is refused.
CREATE TABLE ssas (
    jti          TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL,
    software_id  TEXT NOT NULL,
    claims       TEXT NOT NULL,
    one_time_use BIGINT NOT NULL,
    status       TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL
);
CREATE INDEX ssas_org ON ssas (org_id);
