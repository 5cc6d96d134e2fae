-- User roles (issue 14): space-separated role names. `admin` makes a user an administrator: the
-- admin API accepts a token issued for a user only while that user is active and has it.
ALTER TABLE users ADD COLUMN roles TEXT NOT NULL DEFAULT '';
