DROP INDEX outbox_messages_sending;
UPDATE outbox_messages SET status = 'failed', sending_since = NULL WHERE status = 'sending';
ALTER TABLE outbox_messages
    DROP CONSTRAINT outbox_messages_sending_since,
    DROP CONSTRAINT outbox_messages_addressed,
    DROP CONSTRAINT outbox_messages_status_check;
ALTER TABLE outbox_messages
    ADD CONSTRAINT outbox_messages_status_check CHECK (status IN ('pending', 'sent', 'failed', 'cancelled'));
ALTER TABLE outbox_messages
    DROP COLUMN last_error,
    DROP COLUMN sending_since,
    DROP COLUMN subject,
    DROP COLUMN recipient;
