-- The worklist index of migration 000006 with the treatment level in force (migration 000009),
-- so the worklist stays one index-only scan. Built CONCURRENTLY (no transaction, metadata.toml)
-- beside the old one, which migration 000011 then drops: form writes go on meanwhile and the
-- worklist always has an index. One statement per file: CONCURRENTLY cannot run in a
-- multi-statement query. No IF NOT EXISTS: a build that failed leaves an INVALID index, and
-- running the migration again must stop on it (drop it first) rather than take it as built.
CREATE INDEX CONCURRENTLY pathways_worklist_level ON pathways (unit_id, status, discharge_date)
    INCLUDE (id, patient_id, start_date, treatment_level, current_treatment_level, anchor_date, last_form_date,
             discharge_ending, discharge_contact_consent_1y, follow_up_done)
    WHERE status IN (1, 3, 4);
