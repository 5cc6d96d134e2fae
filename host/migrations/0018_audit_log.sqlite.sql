-- The audit log of administrative changes (issue 14, seed 001 Logging): who (the admin client
-- and, when the token was issued for one, the user), what (action, resource and its id), when,
-- and the representation before and after with secrets masked. Append-only; ids order entries.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at BIGINT NOT NULL,
    actor_client TEXT NOT NULL,
    actor_user TEXT,
    action TEXT NOT NULL,
    resource TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    before_state TEXT,
    after_state TEXT
);
CREATE INDEX audit_log_resource ON audit_log (resource, resource_id);
CREATE INDEX audit_log_at ON audit_log (at);
