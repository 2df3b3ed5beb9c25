-- Flushing caches is audited too: who asked, and which caches (detail).
ALTER TABLE audit_event ADD COLUMN detail text NULL;
ALTER TABLE audit_event DROP CONSTRAINT audit_event_action_check;
ALTER TABLE audit_event ADD CONSTRAINT audit_event_action_check CHECK (action IN (
    'project.created', 'environment.created', 'key.created', 'key.deleted', 'key.rolled', 'operator.created', 'operator.revoked',
    'caches.flushed'));
