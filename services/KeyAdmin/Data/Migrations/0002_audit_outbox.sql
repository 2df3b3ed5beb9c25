-- Key created, deleted and rolled, kept for the project's audit log.
CREATE TABLE audit_event (
    id           bigserial   PRIMARY KEY,
    project_id   text        NOT NULL REFERENCES project (id) ON DELETE CASCADE,
    environment  text        NOT NULL,
    action       text        NOT NULL CHECK (action IN ('key.created', 'key.deleted', 'key.rolled')),
    key_id       text        NOT NULL,
    key_name     text        NOT NULL,
    actor        text        NOT NULL,
    occurred_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_event_by_project ON audit_event (project_id, id DESC);

-- Changes that caches must learn of, written in the same transaction as the change and relayed to Redis at least
-- once. Sequence numbers are assigned under a lock held to commit, so they increase in commit order with no gaps:
-- a subscriber that sees a gap knows it missed a message.
CREATE TABLE outbox (
    sequence      bigint      PRIMARY KEY,
    key_hash      bytea       NOT NULL CHECK (length(key_hash) = 32),
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz NULL
);
CREATE INDEX outbox_unpublished ON outbox (sequence) WHERE published_at IS NULL;
