-- The outbox of the patient channel (docs/patient-channel.md): one row per message about an
-- order — the invitation, a reminder — on one channel. An external service (the letter printer,
-- the SMS gateway) or rusreg's own sender picks the pending rows up. A message carries no health
-- information: only that there is something to answer and how. One message per order, channel
-- and purpose, so a scheduler that runs twice never sends twice.
CREATE TABLE outbox_messages (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    channel text NOT NULL CHECK (channel IN ('email', 'sms', 'letter')),
    purpose text NOT NULL CHECK (purpose IN ('invitation', 'reminder')),
    body text NOT NULL CHECK (length(body) BETWEEN 1 AND 4000),
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed', 'cancelled')),
    attempts smallint NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz,
    CONSTRAINT outbox_messages_one_per_event UNIQUE (order_id, channel, purpose)
);
CREATE INDEX outbox_messages_pending ON outbox_messages (channel, next_attempt_at) WHERE status = 'pending';

GRANT SELECT, INSERT, UPDATE ON outbox_messages TO rusreg_server;
GRANT USAGE ON SEQUENCE outbox_messages_id_seq TO rusreg_server;
