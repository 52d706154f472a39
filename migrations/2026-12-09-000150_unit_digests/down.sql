DELETE FROM outbox_messages WHERE purpose = 'digest';
DROP INDEX outbox_messages_one_digest;
ALTER TABLE outbox_messages DROP CONSTRAINT outbox_messages_about;
ALTER TABLE outbox_messages DROP CONSTRAINT outbox_messages_purpose_check;
ALTER TABLE outbox_messages
    ADD CONSTRAINT outbox_messages_purpose_check CHECK (purpose IN ('invitation', 'reminder'));
ALTER TABLE outbox_messages
    DROP COLUMN digest_day,
    DROP COLUMN digest_unit_id,
    DROP COLUMN digest_user_id,
    ALTER COLUMN order_id SET NOT NULL;
ALTER TABLE users DROP COLUMN email;
