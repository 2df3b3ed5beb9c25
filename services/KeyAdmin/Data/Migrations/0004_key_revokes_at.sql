-- One name for the instant a key stops working: revokes_at, now for a deleted key and at the end of the grace period
-- for a rolled one. Until now a roll wrote that instant into deleted_at (in the future) and again into grace_until;
-- from here on deleted_at means only that an operator deleted the key.
ALTER TABLE api_key ADD COLUMN revokes_at timestamptz NULL;
UPDATE api_key SET revokes_at = deleted_at;
UPDATE api_key SET deleted_at = NULL WHERE grace_until IS NOT NULL;
ALTER TABLE api_key DROP COLUMN grace_until;

-- A name identifies a key that has not been revoked (nor scheduled to be) within its environment: a rolled key's
-- replacement takes its name at once.
DROP INDEX api_key_live_name;
CREATE UNIQUE INDEX api_key_live_name ON api_key (project_id, environment, name) WHERE revokes_at IS NULL;
DROP INDEX api_key_list;
CREATE INDEX api_key_list ON api_key (project_id, environment, created_at DESC) WHERE revokes_at IS NULL;
