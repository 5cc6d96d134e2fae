-- Logout ends a session and revokes what was issued in it: grants are found by their session.
CREATE INDEX grants_session ON grants (session_id);
