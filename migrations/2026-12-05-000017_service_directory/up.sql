-- The TSB service directory (docs/results.md, The TSB service directory): a unit's service facts
-- over periods. A new period closes the one before it (valid_to = the new valid_from); a
-- correction from the same day closes the old row as an empty period (valid_to = valid_from),
-- kept for the history. One open period per unit.
CREATE TABLE service_facts (
    id bigserial PRIMARY KEY,
    node_id bigint NOT NULL REFERENCES org_nodes (id),
    valid_from date NOT NULL,
    valid_to date,
    treatment_levels text[] NOT NULL
        CHECK (cardinality(treatment_levels) > 0
               AND treatment_levels <@ ARRAY['outpatient', 'day', 'inpatient', 'ambulatory', 'detoxification', 'assessment']),
    beds integer CHECK (beds BETWEEN 0 AND 2000),
    special_functions text[] NOT NULL DEFAULT '{}'
        CHECK (special_functions <@ ARRAY['lar', 'youth', 'prison', 'overdose_follow_up', 'family']),
    municipality_number text NOT NULL CHECK (municipality_number ~ '^[0-9]{4}$'),
    municipality_name text NOT NULL CHECK (length(municipality_name) BETWEEN 1 AND 1000),
    address text NOT NULL CHECK (length(address) BETWEEN 1 AND 1000),
    postal_code text CHECK (postal_code ~ '^[0-9]{4}$'),
    postal_place text CHECK (length(postal_place) <= 1000),
    phone text CHECK (length(phone) <= 1000),
    referral text NOT NULL CHECK (length(referral) BETWEEN 1 AND 1000),
    demo boolean NOT NULL DEFAULT false,
    recorded_by uuid NOT NULL REFERENCES users (id),
    recorded_at timestamptz NOT NULL DEFAULT now(),
    CHECK (valid_to IS NULL OR valid_to >= valid_from)
);

CREATE UNIQUE INDEX service_facts_open ON service_facts (node_id) WHERE valid_to IS NULL;
CREATE INDEX service_facts_node ON service_facts (node_id, valid_from);

-- The server reads and adds periods and may only close one (valid_to); nothing is deleted.
GRANT SELECT, INSERT ON service_facts TO rusreg_server;
GRANT UPDATE (valid_to) ON service_facts TO rusreg_server;
GRANT USAGE ON SEQUENCE service_facts_id_seq TO rusreg_server;
