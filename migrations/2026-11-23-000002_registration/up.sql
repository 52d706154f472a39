-- Registration: patients, the reservation list, pathways (with transfers and status history) and
-- the four forms (a common `forms` row plus one typed table per kind), with their history.
--
-- Storage choices (read before loading data in bulk):
-- * National ids are never stored in clear. `patients.pseudonym` is HMAC-SHA-256 of the 11 digits
--   (32 bytes, unique: it finds the patient); `patients.national_id_enc` is AES-256-GCM
--   (nonce || ciphertext || tag, 39 bytes). Both come from domain::national_id::IdKey.
-- * `reservations` keeps only the pseudonym of a person who reserved; every row about them is
--   deleted (patients cascades to pathways, transfers, status history, forms, kind tables,
--   substances and form history).
-- * Codes are smallint with CHECK constraints mirroring domain::forms::codes; `unknown` is a code,
--   a NULL is a question never answered (counts against completeness).
-- * `forms` holds what every form has (pathway, kind, unit, event_date, status, version, who and
--   when); `baseline_forms`, `measurement_forms`, `discharge_forms`, `follow_up_forms` hold the
--   typed fields, one row per form (form_id = forms.id). Diagnoses are text[] of ICD-10 codes
--   (checked by the functions below), code sets (agreed/received follow-up) are smallint[], and
--   the substance list is the child table `form_substances` (one row per listed substance, in
--   the order given). `substances_given` tells "no list answered" (false) from an empty list.
-- * A draft satisfies only the draft rules (types, ranges, code lists); completion rules live in
--   the domain. Completed rows are what reports count (forms.status = 'completed').
-- * Pathway status follows docs/domain.md, Status transitions, and is changed only by completing
--   or reopening a discharge or follow-up; every change is a row in `pathway_status_history`.

CREATE FUNCTION rusreg_icd10_all(codes text[], pattern text) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT AS
$$ SELECT coalesce(bool_and(c ~ '^[A-Z][0-9]{2}(\.[0-9]{1,2})?$' AND c ~ pattern), true) FROM unnest(codes) AS c $$;

CREATE TABLE patients (
    id uuid PRIMARY KEY,
    pseudonym bytea NOT NULL UNIQUE CHECK (length(pseudonym) = 32),
    national_id_enc bytea NOT NULL CHECK (length(national_id_enc) = 39),
    sex smallint NOT NULL CHECK (sex IN (1, 2, 9)),
    birth_year smallint NOT NULL CHECK (birth_year >= 1900),
    -- The user who registered the patient (the patient is in that user's scope until a pathway
    -- puts them in a unit's scope).
    registered_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE reservations (
    id uuid PRIMARY KEY,
    pseudonym bytea NOT NULL UNIQUE CHECK (length(pseudonym) = 32),
    -- The day the reservation reached the register; the confirmation letter is due 30 days later.
    received_date date NOT NULL,
    letter_sent_at timestamptz,
    letter_sent_by uuid REFERENCES users (id),
    created_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((letter_sent_at IS NULL) = (letter_sent_by IS NULL))
);
CREATE INDEX reservations_letter_pending ON reservations (received_date) WHERE letter_sent_at IS NULL;

CREATE TABLE pathways (
    id uuid PRIMARY KEY,
    patient_id uuid NOT NULL REFERENCES patients (id) ON DELETE CASCADE,
    -- The unit that owns the pathway now (changed by transfers).
    unit_id bigint NOT NULL REFERENCES org_nodes (id),
    -- The unit where the pathway was opened.
    opened_unit_id bigint NOT NULL REFERENCES org_nodes (id),
    start_date date NOT NULL CHECK (start_date >= DATE '2000-01-01'),
    treatment_level smallint NOT NULL CHECK (treatment_level BETWEEN 1 AND 6),
    -- treatment_status (docs/domain.md, Statuses): 1 active .. 7 declined.
    status smallint NOT NULL DEFAULT 1 CHECK (status BETWEEN 1 AND 7),
    created_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
-- One active pathway per patient.
CREATE UNIQUE INDEX pathways_one_active_per_patient ON pathways (patient_id) WHERE status = 1;
CREATE INDEX pathways_patient ON pathways (patient_id);
CREATE INDEX pathways_unit_status_start ON pathways (unit_id, status, start_date);

CREATE TABLE pathway_transfers (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pathway_id uuid NOT NULL REFERENCES pathways (id) ON DELETE CASCADE,
    from_unit_id bigint NOT NULL REFERENCES org_nodes (id),
    to_unit_id bigint NOT NULL REFERENCES org_nodes (id),
    transfer_date date NOT NULL,
    created_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (from_unit_id <> to_unit_id)
);
CREATE INDEX pathway_transfers_pathway ON pathway_transfers (pathway_id, transfer_date);
CREATE INDEX pathway_transfers_from_unit ON pathway_transfers (from_unit_id);

CREATE TABLE pathway_status_history (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pathway_id uuid NOT NULL REFERENCES pathways (id) ON DELETE CASCADE,
    from_status smallint CHECK (from_status BETWEEN 1 AND 7),
    to_status smallint NOT NULL CHECK (to_status BETWEEN 1 AND 7),
    event text NOT NULL CHECK (event IN ('opened', 'discharge_completed', 'follow_up_completed',
                                         'discharge_reopened', 'follow_up_reopened')),
    -- The form whose completion or reopening changed the status (NULL for opening).
    form_id uuid,
    changed_by uuid NOT NULL REFERENCES users (id),
    changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pathway_status_history_pathway ON pathway_status_history (pathway_id, id);

CREATE TABLE forms (
    id uuid PRIMARY KEY,
    pathway_id uuid NOT NULL REFERENCES pathways (id) ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind IN ('baseline', 'measurement', 'discharge', 'follow-up')),
    -- The unit that registered the form (it keeps read access after a transfer).
    unit_id bigint NOT NULL REFERENCES org_nodes (id),
    event_date date,
    status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'completed')),
    -- Bumped by every change; updates must send the version they read.
    version integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    created_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_by uuid NOT NULL REFERENCES users (id),
    updated_at timestamptz NOT NULL DEFAULT now(),
    completed_by uuid REFERENCES users (id),
    completed_at timestamptz,
    reopened_by uuid REFERENCES users (id),
    reopened_at timestamptz,
    reopen_reason text CHECK (length(reopen_reason) BETWEEN 1 AND 1000),
    CHECK ((status = 'completed') = (completed_at IS NOT NULL AND completed_by IS NOT NULL)),
    CHECK (status = 'draft' OR event_date IS NOT NULL),
    CHECK ((reopened_at IS NULL) = (reopened_by IS NULL) AND (reopened_at IS NULL) = (reopen_reason IS NULL))
);
-- At most one baseline, discharge and follow-up per pathway; measurements repeat.
CREATE UNIQUE INDEX forms_one_per_kind ON forms (pathway_id, kind) WHERE kind <> 'measurement';
CREATE INDEX forms_pathway_kind_status ON forms (pathway_id, kind, status) INCLUDE (event_date);
CREATE INDEX forms_unit ON forms (unit_id);

CREATE TABLE baseline_forms (
    form_id uuid PRIMARY KEY REFERENCES forms (id) ON DELETE CASCADE,
    referral_diagnosis text CHECK (rusreg_icd10_all(ARRAY[referral_diagnosis], '')),
    substance_diagnoses text[] CHECK (cardinality(substance_diagnoses) <= 20
        AND rusreg_icd10_all(substance_diagnoses, '^F1[0-9]\.')),
    psychiatric_diagnoses text[] CHECK (cardinality(psychiatric_diagnoses) <= 20
        AND rusreg_icd10_all(psychiatric_diagnoses, '^F[02-9]')),
    somatic_diagnoses text[] CHECK (cardinality(somatic_diagnoses) <= 20
        AND rusreg_icd10_all(somatic_diagnoses, '^[A-EG-Z]')),
    somatic_health_assessed smallint CHECK (somatic_health_assessed BETWEEN 1 AND 3),
    mental_health_assessed smallint CHECK (mental_health_assessed BETWEEN 1 AND 3),
    in_lar smallint CHECK (in_lar BETWEEN 1 AND 3),
    lar_medication smallint CHECK (lar_medication BETWEEN 1 AND 5),
    individual_plan smallint CHECK (individual_plan BETWEEN 1 AND 3),
    responsibility_group smallint CHECK (responsibility_group BETWEEN 1 AND 3),
    substances_given boolean NOT NULL DEFAULT false,
    main_substance smallint CHECK (main_substance BETWEEN 1 AND 12),
    injected_30d smallint CHECK (injected_30d BETWEEN 1 AND 3),
    overdose_12m smallint CHECK (overdose_12m BETWEEN 0 AND 99),
    injected_ever smallint CHECK (injected_ever BETWEEN 1 AND 3),
    audit_score smallint CHECK (audit_score BETWEEN 0 AND 40),
    dudit_score smallint CHECK (dudit_score BETWEEN 0 AND 44),
    self_rated_severity smallint CHECK (self_rated_severity BETWEEN 1 AND 5),
    self_rated_life_situation smallint CHECK (self_rated_life_situation BETWEEN 1 AND 5),
    housing smallint CHECK (housing BETWEEN 1 AND 10),
    lives_with smallint CHECK (lives_with BETWEEN 1 AND 7),
    children_under_18 smallint CHECK (children_under_18 BETWEEN 1 AND 3),
    occupation smallint CHECK (occupation BETWEEN 1 AND 8)
);

CREATE TABLE measurement_forms (
    form_id uuid PRIMARY KEY REFERENCES forms (id) ON DELETE CASCADE,
    treatment_level smallint CHECK (treatment_level BETWEEN 1 AND 6),
    treatment_plan smallint CHECK (treatment_plan BETWEEN 1 AND 3),
    crisis_plan smallint CHECK (crisis_plan BETWEEN 1 AND 3),
    benefit smallint CHECK (benefit BETWEEN 1 AND 5),
    feedback_tool_used smallint CHECK (feedback_tool_used BETWEEN 1 AND 2),
    needs_followed_up smallint CHECK (needs_followed_up BETWEEN 1 AND 3),
    substances_given boolean NOT NULL DEFAULT false,
    main_substance smallint CHECK (main_substance BETWEEN 1 AND 12),
    injected_30d smallint CHECK (injected_30d BETWEEN 1 AND 3),
    overdose_12m smallint CHECK (overdose_12m BETWEEN 0 AND 99),
    housing smallint CHECK (housing BETWEEN 1 AND 10),
    occupation smallint CHECK (occupation BETWEEN 1 AND 8)
);

CREATE TABLE discharge_forms (
    form_id uuid PRIMARY KEY REFERENCES forms (id) ON DELETE CASCADE,
    ending smallint CHECK (ending BETWEEN 2 AND 4),
    agreed_follow_up smallint[] CHECK (cardinality(agreed_follow_up) <= 7
        AND agreed_follow_up <@ ARRAY[1, 2, 3, 4, 5, 6, 7]::smallint[]),
    municipality_informed smallint CHECK (municipality_informed BETWEEN 1 AND 3),
    substances_given boolean NOT NULL DEFAULT false,
    main_substance smallint CHECK (main_substance BETWEEN 1 AND 12),
    injected_30d smallint CHECK (injected_30d BETWEEN 1 AND 3),
    overdose_12m smallint CHECK (overdose_12m BETWEEN 0 AND 99),
    housing smallint CHECK (housing BETWEEN 1 AND 10),
    occupation smallint CHECK (occupation BETWEEN 1 AND 8),
    satisfaction smallint CHECK (satisfaction BETWEEN 1 AND 5),
    contact_consent_1y smallint CHECK (contact_consent_1y BETWEEN 1 AND 2)
);

CREATE TABLE follow_up_forms (
    form_id uuid PRIMARY KEY REFERENCES forms (id) ON DELETE CASCADE,
    outcome smallint CHECK (outcome BETWEEN 5 AND 7),
    substances_given boolean NOT NULL DEFAULT false,
    main_substance smallint CHECK (main_substance BETWEEN 1 AND 12),
    injected_30d smallint CHECK (injected_30d BETWEEN 1 AND 3),
    overdose_12m smallint CHECK (overdose_12m BETWEEN 0 AND 99),
    housing smallint CHECK (housing BETWEEN 1 AND 10),
    occupation smallint CHECK (occupation BETWEEN 1 AND 8),
    received_follow_up smallint[] CHECK (cardinality(received_follow_up) <= 7
        AND received_follow_up <@ ARRAY[1, 2, 3, 4, 5, 6, 7]::smallint[]),
    self_rated_life_situation smallint CHECK (self_rated_life_situation BETWEEN 1 AND 5)
);

-- The substance list of a form's substance-use block, in the order given (position from 0).
CREATE TABLE form_substances (
    form_id uuid NOT NULL REFERENCES forms (id) ON DELETE CASCADE,
    position smallint NOT NULL CHECK (position BETWEEN 0 AND 11),
    substance smallint CHECK (substance BETWEEN 1 AND 12),
    frequency_30d smallint CHECK (frequency_30d BETWEEN 0 AND 4),
    route smallint CHECK (route BETWEEN 1 AND 5),
    debut_age smallint CHECK (debut_age BETWEEN 5 AND 90),
    PRIMARY KEY (form_id, position),
    UNIQUE (form_id, substance)
);

-- Who changed which fields of a form, from what to what. `changes` is a list of
-- {"field": "substance_use.main_substance", "from": 1, "to": 2}.
CREATE TABLE form_history (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    form_id uuid NOT NULL REFERENCES forms (id) ON DELETE CASCADE,
    version integer NOT NULL,
    action text NOT NULL CHECK (action IN ('created', 'updated', 'completed', 'reopened')),
    changed_by uuid NOT NULL REFERENCES users (id),
    changed_at timestamptz NOT NULL DEFAULT now(),
    changes jsonb NOT NULL DEFAULT '[]'::jsonb,
    reason text
);
CREATE INDEX form_history_form ON form_history (form_id, id);
