-- An invalidation may cover every key of a project instead of one key: a project's new default rate limit, when more
-- keys follow it than KeyAdmin:ProjectInvalidationKeyLimit, is one row (project_id set, no key_hash) rather than one
-- row per key, which caches apply as a flush. Exactly one of the two is set.
ALTER TABLE outbox ALTER COLUMN key_hash DROP NOT NULL;
ALTER TABLE outbox ADD COLUMN project_id text NULL;
-- NOT VALID: every row written so far names a key (key_hash was NOT NULL) and no project, so it holds for them
-- without a scan of the outbox under this migration's lock; it is enforced on every row written from here on.
ALTER TABLE outbox ADD CONSTRAINT outbox_key_or_project CHECK ((key_hash IS NULL) <> (project_id IS NULL)) NOT VALID;
