-- The worklist reads active pathways (status 1) and discharged ones that can still get a
-- follow-up (3, 4) of one unit: every column it needs is in this index (an index-only scan).
-- Built CONCURRENTLY (no transaction, metadata.toml), so form writes go on meanwhile; one
-- statement per file, as CONCURRENTLY cannot run in a multi-statement query.
CREATE INDEX CONCURRENTLY IF NOT EXISTS pathways_worklist ON pathways (unit_id, status, discharge_date)
    INCLUDE (id, patient_id, start_date, treatment_level, anchor_date, last_form_date, discharge_ending,
             discharge_contact_consent_1y, follow_up_done)
    WHERE status IN (1, 3, 4);
