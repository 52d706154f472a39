-- Daily digests to unit contacts (docs/patient-channel.md, Unit digests): a user may have a
-- work e-mail address; the outbox carries, besides messages about orders, one digest per unit
-- contact, unit and day: counts only (forms due and overdue, patients' answers waiting for
-- review), never a patient. One per user, unit and day, so passes that run at once or again
-- on the same day never send two.
ALTER TABLE users ADD COLUMN email text CHECK (email IS NULL OR length(email) BETWEEN 3 AND 254);

ALTER TABLE outbox_messages
    ALTER COLUMN order_id DROP NOT NULL,
    ADD COLUMN digest_user_id uuid REFERENCES users (id) ON DELETE CASCADE,
    ADD COLUMN digest_unit_id bigint REFERENCES org_nodes (id),
    ADD COLUMN digest_day date;
ALTER TABLE outbox_messages DROP CONSTRAINT outbox_messages_purpose_check;
ALTER TABLE outbox_messages
    ADD CONSTRAINT outbox_messages_purpose_check CHECK (purpose IN ('invitation', 'reminder', 'digest')),
    ADD CONSTRAINT outbox_messages_about CHECK (
        CASE WHEN purpose = 'digest'
             THEN order_id IS NULL AND channel = 'email' AND digest_user_id IS NOT NULL
                  AND digest_unit_id IS NOT NULL AND digest_day IS NOT NULL
             ELSE order_id IS NOT NULL AND digest_user_id IS NULL AND digest_unit_id IS NULL AND digest_day IS NULL
        END);
CREATE UNIQUE INDEX outbox_messages_one_digest ON outbox_messages (digest_user_id, digest_unit_id, digest_day)
    WHERE purpose = 'digest';
