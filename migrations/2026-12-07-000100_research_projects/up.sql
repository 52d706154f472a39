-- Research projects and their pseudonymised extracts (docs/research.md).
--
-- A project records what an approval allows: the variables, the period of pathway starts, the
-- recipient and their age public keys, and how dates, ages and small classes are treated. Its
-- pseudonym key is derived from the server's id key and the project id, so it is never stored.
CREATE TABLE research_projects (
    id uuid PRIMARY KEY,
    title text NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
    approval_ref text NOT NULL CHECK (length(approval_ref) BETWEEN 1 AND 100),
    legal_basis text NOT NULL CHECK (length(legal_basis) BETWEEN 1 AND 1000),
    recipient_org text NOT NULL CHECK (length(recipient_org) BETWEEN 1 AND 300),
    recipient_contact text NOT NULL CHECK (length(recipient_contact) BETWEEN 1 AND 300),
    variables text[] NOT NULL CHECK (cardinality(variables) >= 1),
    period_from date NOT NULL CHECK (period_from >= DATE '2000-01-01'),
    period_to date NOT NULL,
    approved_on date NOT NULL,
    expires_on date NOT NULL,
    recipient_keys text[] NOT NULL CHECK (cardinality(recipient_keys) BETWEEN 1 AND 10),
    k smallint NOT NULL DEFAULT 5 CHECK (k BETWEEN 2 AND 100),
    dates text NOT NULL CHECK (dates IN ('shift', 'month')),
    shift_days smallint CHECK (shift_days BETWEEN 1 AND 365),
    age_groups boolean NOT NULL DEFAULT false,
    max_suppressed_percent smallint NOT NULL DEFAULT 5 CHECK (max_suppressed_percent BETWEEN 0 AND 100),
    created_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (period_from <= period_to),
    CHECK (approved_on <= expires_on),
    CHECK ((dates = 'shift') = (shift_days IS NOT NULL))
);

-- One row per extract delivered: what, to whom, when, by whom. Append-only for the server.
CREATE TABLE research_deliveries (
    id uuid PRIMARY KEY,
    project_id uuid NOT NULL REFERENCES research_projects (id),
    delivered_by uuid NOT NULL REFERENCES users (id),
    delivered_at timestamptz NOT NULL DEFAULT now(),
    variables text[] NOT NULL,
    period_from date NOT NULL,
    period_to date NOT NULL,
    row_count integer NOT NULL CHECK (row_count >= 0),
    patient_count integer NOT NULL CHECK (patient_count >= 0),
    suppressed_rows integer NOT NULL CHECK (suppressed_rows >= 0),
    recipients text[] NOT NULL,
    -- [{"name": ..., "sha256": ..., "bytes": ...}] of the files inside the container.
    files jsonb NOT NULL,
    -- SHA-256 of the encrypted container as sent.
    container_sha256 text NOT NULL,
    -- The re-identification risk report (before and after, and what was changed).
    risk jsonb NOT NULL
);
CREATE INDEX research_deliveries_project ON research_deliveries (project_id, delivered_at);

-- Which patients' data went into a delivery, under which project pseudonym. The link goes with
-- the patient (a reservation deletes the patient after writing its notices).
CREATE TABLE research_delivery_patients (
    delivery_id uuid NOT NULL REFERENCES research_deliveries (id),
    patient_id uuid NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    project_pseudonym text NOT NULL,
    PRIMARY KEY (delivery_id, patient_id)
);
CREATE INDEX research_delivery_patients_patient ON research_delivery_patients (patient_id);

-- A reservation recorded after a patient's data was delivered to a project: the recipient must
-- be told to delete the rows of this project pseudonym.
CREATE TABLE research_reservation_notices (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id uuid NOT NULL REFERENCES research_projects (id),
    -- Deferred: the notices are written before the reservation row, while the patient's links
    -- still exist (the reservation deletes the patient).
    reservation_id uuid NOT NULL REFERENCES reservations (id) DEFERRABLE INITIALLY DEFERRED,
    project_pseudonym text NOT NULL,
    last_delivery_id uuid NOT NULL REFERENCES research_deliveries (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    -- When and by whom the recipient was told (pending until then).
    told_at timestamptz,
    told_by uuid REFERENCES users (id),
    UNIQUE (project_id, reservation_id),
    CHECK ((told_at IS NULL) = (told_by IS NULL))
);

GRANT SELECT, INSERT ON research_projects, research_deliveries, research_delivery_patients,
    research_reservation_notices TO rusreg_server;
-- A notice is only ever marked told.
GRANT UPDATE (told_at, told_by) ON research_reservation_notices TO rusreg_server;
