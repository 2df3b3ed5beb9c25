-- Operators: who manages keys, each with a token of their own and a role. The token is kept as its SHA-256 only.
CREATE TABLE operator (
    id           text        PRIMARY KEY,
    name         text        NOT NULL,
    role         text        NOT NULL CHECK (role IN ('owner', 'editor', 'viewer')),
    -- The projects the token may act on; empty: every project. Owners are never limited: they manage operators, who
    -- span projects.
    project_ids  text[]      NOT NULL DEFAULT '{}' CHECK (role <> 'owner' OR cardinality(project_ids) = 0),
    token_hash   bytea       NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    masked_token text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    created_by   text        NOT NULL,
    expires_at   timestamptz NULL,
    revoked_at   timestamptz NULL,
    revoked_by   text        NULL
);

-- A name identifies an operator that has not been revoked: audit rows name operators, and two of one name would be
-- indistinguishable there to a reader who does not look at IDs.
CREATE UNIQUE INDEX operator_live_name ON operator (name) WHERE revoked_at IS NULL;

-- Audit events name who acted by ID as well as by name, and record changes to projects, environments and operators,
-- not only to keys. Rows from before name the only principal there was, the admin token.
ALTER TABLE audit_event ADD COLUMN actor_id text NULL;
UPDATE audit_event SET actor_id = 'admin-token';
ALTER TABLE audit_event ALTER COLUMN actor_id SET NOT NULL;
ALTER TABLE audit_event ADD COLUMN operator_id text NULL;
ALTER TABLE audit_event ADD COLUMN operator_name text NULL;
ALTER TABLE audit_event ALTER COLUMN project_id DROP NOT NULL;
ALTER TABLE audit_event ALTER COLUMN environment DROP NOT NULL;
ALTER TABLE audit_event ALTER COLUMN key_id DROP NOT NULL;
ALTER TABLE audit_event ALTER COLUMN key_name DROP NOT NULL;
ALTER TABLE audit_event DROP CONSTRAINT audit_event_action_check;
ALTER TABLE audit_event ADD CONSTRAINT audit_event_action_check CHECK (action IN (
    'project.created', 'environment.created', 'key.created', 'key.deleted', 'key.rolled', 'operator.created', 'operator.revoked'));
