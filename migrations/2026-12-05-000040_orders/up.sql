-- The patient channel (docs/patient-channel.md): an order asks one patient for one
-- questionnaire — the patient part of a baseline or measurement draft, or the one-year
-- follow-up. Its status moves ordered → notified → opened → answered, or ends expired,
-- cancelled or failed; every move is kept in order_status_history. The single-use access code
-- is stored only as a SHA-256 hash. Deleting the patient (a reservation) deletes their orders,
-- their history and their codes with the rest.
CREATE TABLE orders (
    id uuid PRIMARY KEY,
    patient_id uuid NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    pathway_id uuid NOT NULL REFERENCES pathways (id) ON DELETE CASCADE,
    -- The unit that owned the pathway when the order was made (the unit's lists and digests).
    unit_id bigint NOT NULL REFERENCES org_nodes (id),
    -- The draft the answers land in; a follow-up order gets its form when it is answered.
    form_id uuid REFERENCES forms (id) ON DELETE CASCADE,
    questionnaire text NOT NULL CHECK (questionnaire IN ('baseline', 'measurement', 'follow_up')),
    status text NOT NULL DEFAULT 'ordered'
        CHECK (status IN ('ordered', 'notified', 'opened', 'answered', 'expired', 'cancelled', 'failed')),
    remind_on date NOT NULL,
    expires_on date NOT NULL,
    -- Which attempt at the pathway's follow-up this is (1 for the patient part of a form).
    attempt smallint NOT NULL DEFAULT 1 CHECK (attempt BETWEEN 1 AND 10),
    -- NULL: ordered by the system (the follow-up scheduler).
    ordered_by uuid REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    reminded_at timestamptz,
    closed_at timestamptz,
    CONSTRAINT orders_form_or_follow_up CHECK (questionnaire = 'follow_up' OR form_id IS NOT NULL),
    CONSTRAINT orders_remind_before_expiry CHECK (remind_on <= expires_on),
    CONSTRAINT orders_closed_when_final CHECK (
        (status IN ('ordered', 'notified', 'opened')) = (closed_at IS NULL))
);
-- One open order per form, and one open follow-up order per pathway.
CREATE UNIQUE INDEX orders_one_open_per_form ON orders (form_id)
    WHERE status IN ('ordered', 'notified', 'opened');
CREATE UNIQUE INDEX orders_one_open_follow_up ON orders (pathway_id)
    WHERE questionnaire = 'follow_up' AND status IN ('ordered', 'notified', 'opened');
-- One follow-up order per attempt: the scheduler never makes two for one event.
CREATE UNIQUE INDEX orders_one_follow_up_per_attempt ON orders (pathway_id, attempt)
    WHERE questionnaire = 'follow_up';
CREATE INDEX orders_unit_created ON orders (unit_id, created_at DESC, id);
CREATE INDEX orders_pathway ON orders (pathway_id);
CREATE INDEX orders_patient ON orders (patient_id);
CREATE INDEX orders_open_expiry ON orders (expires_on) WHERE status IN ('ordered', 'notified', 'opened');

CREATE TABLE order_status_history (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id uuid NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
    from_status text,
    to_status text NOT NULL,
    -- NULL: the system (scheduler) or the patient.
    changed_by uuid REFERENCES users (id),
    -- Who moved it: a user, the system or the patient.
    actor text NOT NULL CHECK (actor IN ('user', 'system', 'patient')),
    reason text CHECK (reason IS NULL OR length(reason) BETWEEN 1 AND 1000),
    changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX order_status_history_order ON order_status_history (order_id, id);

CREATE TABLE order_access_codes (
    order_id uuid PRIMARY KEY REFERENCES orders (id) ON DELETE CASCADE,
    -- SHA-256 of the code (the code has 80 random bits; it is never stored in clear).
    code_hash bytea NOT NULL UNIQUE CHECK (length(code_hash) = 32),
    failed_attempts smallint NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    -- Set when the code dies (answered, cancelled, expired, too many wrong attempts).
    spent_at timestamptz
);

GRANT SELECT, INSERT, UPDATE ON orders TO rusreg_server;
GRANT SELECT, INSERT ON order_status_history TO rusreg_server;
GRANT SELECT, INSERT, UPDATE ON order_access_codes TO rusreg_server;
GRANT USAGE ON SEQUENCE order_status_history_id_seq TO rusreg_server;

-- Answers a patient saves through an order are kept in the form's history as their own action.
ALTER TABLE form_history DROP CONSTRAINT form_history_action_check;
ALTER TABLE form_history ADD CONSTRAINT form_history_action_check
    CHECK (action IN ('created', 'updated', 'completed', 'reopened', 'answered_by_patient'));
