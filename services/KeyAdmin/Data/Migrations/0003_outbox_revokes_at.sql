-- What an invalidation says about the key's end, so that caches can refuse a deleted key without asking again.
ALTER TABLE outbox ADD COLUMN revokes_at timestamptz NULL;
