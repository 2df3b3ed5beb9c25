-- A key's lifecycle and policy: switched off and on in place, its own rate limit, where it may be used from, and the
-- operator's notes about it; a project's default rate limit and how long its secret keys may live.
ALTER TABLE api_key
    ADD COLUMN enabled           boolean NOT NULL DEFAULT true,
    -- The key's own rate limit; all three unset: the project's default applies.
    ADD COLUMN rate_limit        bigint  NULL,
    ADD COLUMN rate_limit_window integer NULL,
    ADD COLUMN rate_limit_mode   text    NULL,
    -- cidr rather than text: Postgres refuses a network with bits set after its prefix and prints every one in one
    -- canonical form, whatever the operator typed. Read back as text[].
    ADD COLUMN allowed_cidrs     cidr[]  NOT NULL DEFAULT '{}',
    ADD COLUMN allowed_origins   text[]  NOT NULL DEFAULT '{}',
    -- The operator's own data; never sent to validation.
    ADD COLUMN metadata          jsonb   NULL,
    ADD CONSTRAINT api_key_rate_limit_check CHECK (
        (rate_limit IS NULL AND rate_limit_window IS NULL AND rate_limit_mode IS NULL)
        OR (rate_limit BETWEEN 1 AND 1000000000 AND rate_limit_window BETWEEN 1 AND 86400 AND rate_limit_mode IN ('local', 'global'))),
    ADD CONSTRAINT api_key_cidrs_check CHECK (type = 'secret' OR cardinality(allowed_cidrs) = 0),
    ADD CONSTRAINT api_key_origins_check CHECK (type = 'publishable' OR cardinality(allowed_origins) = 0),
    ADD CONSTRAINT api_key_metadata_check CHECK (metadata IS NULL OR jsonb_typeof(metadata) = 'object');

ALTER TABLE project
    ADD COLUMN default_rate_limit           bigint  NULL,
    ADD COLUMN default_rate_limit_window    integer NULL,
    ADD COLUMN default_rate_limit_mode      text    NULL,
    ADD COLUMN max_secret_key_lifetime_days integer NULL CHECK (max_secret_key_lifetime_days BETWEEN 1 AND 3650),
    ADD CONSTRAINT project_default_rate_limit_check CHECK (
        (default_rate_limit IS NULL AND default_rate_limit_window IS NULL AND default_rate_limit_mode IS NULL)
        OR (default_rate_limit BETWEEN 1 AND 1000000000 AND default_rate_limit_window BETWEEN 1 AND 86400
            AND default_rate_limit_mode IN ('local', 'global')));

-- Keyset paging of an environment's keys, newest first: a page at any depth is one index range. Keys that are not
-- deleted, so that rolled keys in their grace period are listed from it too (the index it replaces held only keys
-- never rolled, which the listing's condition did not imply, so it was never used).
DROP INDEX api_key_list;
CREATE INDEX api_key_list ON api_key (project_id, environment, created_at DESC, id DESC) WHERE deleted_at IS NULL;

-- Projects are paged the same way.
CREATE INDEX project_list ON project (created_at DESC, id DESC);

-- Searching keys by a part of their name or of their masked value: trigram indexes, when the server has pg_trgm.
-- It is a trusted extension, which the owner of the database (the role KeyAdmin runs as) may create; a server
-- without it, or a role that may not, does without the indexes: the search works the same, scanning the environment.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
        CREATE INDEX api_key_name_trgm ON api_key USING gin (name gin_trgm_ops) WHERE deleted_at IS NULL;
        CREATE INDEX api_key_masked_trgm ON api_key USING gin (masked_key gin_trgm_ops) WHERE deleted_at IS NULL;
    END IF;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'pg_trgm is not available to this role: key search scans each environment instead of using trigram indexes';
END
$$;

ALTER TABLE audit_event DROP CONSTRAINT audit_event_action_check;
ALTER TABLE audit_event ADD CONSTRAINT audit_event_action_check CHECK (action IN (
    'project.created', 'project.updated', 'environment.created', 'key.created', 'key.updated', 'key.disabled',
    'key.enabled', 'key.deleted', 'key.rolled', 'operator.created', 'operator.revoked', 'caches.flushed'));
