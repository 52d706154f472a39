-- The outbox's own senders (docs/patient-channel.md, Senders): e-mail goes out through SMTP from
-- rusreg itself, SMS rows wait for an external gateway like letters. A message on those channels
-- needs an address (`recipient`), kept only while the order is open. Sending is at most once: the
-- sender claims a row by moving it to `sending` (with `sending_since`) and commits before it hands
-- the mail to SMTP; a row left in `sending` by a process that died is never sent again, it
-- becomes `failed` with the reason `interrupted`. `last_error` holds the class of the last
-- failure (an SMTP status code, never the server's text, which may quote the address).
ALTER TABLE outbox_messages
    ADD COLUMN recipient text CHECK (recipient IS NULL OR length(recipient) BETWEEN 3 AND 320),
    ADD COLUMN subject text CHECK (subject IS NULL OR length(subject) BETWEEN 1 AND 200),
    ADD COLUMN sending_since timestamptz,
    ADD COLUMN last_error text CHECK (last_error IS NULL OR length(last_error) BETWEEN 1 AND 200);

ALTER TABLE outbox_messages DROP CONSTRAINT outbox_messages_status_check;
ALTER TABLE outbox_messages
    ADD CONSTRAINT outbox_messages_status_check
        CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'cancelled')),
    ADD CONSTRAINT outbox_messages_addressed
        CHECK (channel = 'letter' OR status NOT IN ('pending', 'sending') OR recipient IS NOT NULL),
    ADD CONSTRAINT outbox_messages_sending_since CHECK ((status = 'sending') = (sending_since IS NOT NULL));

CREATE INDEX outbox_messages_sending ON outbox_messages (channel, sending_since) WHERE status = 'sending';
