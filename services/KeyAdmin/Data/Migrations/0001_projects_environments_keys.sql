CREATE TABLE project (
    id          text        PRIMARY KEY,
    name        text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE environment (
    project_id  text        NOT NULL REFERENCES project (id) ON DELETE CASCADE,
    name        text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, name)
);

CREATE TABLE api_key (
    id                text        PRIMARY KEY,
    project_id        text        NOT NULL,
    environment       text        NOT NULL,
    name              text        NOT NULL,
    type              text        NOT NULL CHECK (type IN ('publishable', 'secret')),
    scopes            text[]      NOT NULL DEFAULT '{}',
    -- SHA-256 of the full key string: the lookup for validation, and all that is kept of a secret key.
    key_hash          bytea       NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    masked_key        text        NOT NULL,
    -- Publishable keys are shown in the list at any time; a secret key's value is never stored.
    publishable_value text        NULL CHECK (type = 'publishable' OR publishable_value IS NULL),
    expires_at        timestamptz NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    created_by        text        NULL,
    last_used_at      timestamptz NULL,
    -- A deleted key stays as a tombstone so that validation can answer "revoked" rather than "not found".
    deleted_at        timestamptz NULL,
    rolled_from       text        NULL REFERENCES api_key (id),
    grace_until       timestamptz NULL,
    FOREIGN KEY (project_id, environment) REFERENCES environment (project_id, name)
);

-- A name identifies a live key within its environment; deleted names can be reused.
CREATE UNIQUE INDEX api_key_live_name ON api_key (project_id, environment, name) WHERE deleted_at IS NULL;
CREATE INDEX api_key_list ON api_key (project_id, environment, created_at DESC) WHERE deleted_at IS NULL;
