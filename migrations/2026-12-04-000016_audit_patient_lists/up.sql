-- A read of a list that shows patients (a worklist, a pathway list, the reservation list) is one
-- audit row carrying every listed patient: their internal ids and pseudonyms, so that each
-- patient's access log (by pseudonym) and the search by patient id find it.
ALTER TABLE audit_log
    ADD COLUMN patient_ids uuid[],
    ADD COLUMN patient_pseudonyms bytea[];
CREATE INDEX audit_log_patient_ids ON audit_log USING gin (patient_ids) WHERE patient_ids IS NOT NULL;
CREATE INDEX audit_log_patient_pseudonyms ON audit_log USING gin (patient_pseudonyms)
    WHERE patient_pseudonyms IS NOT NULL;
