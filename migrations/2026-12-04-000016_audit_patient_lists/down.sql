-- Drops the lists of patients of list reads (their rows stay, without the patients).
DROP INDEX audit_log_patient_pseudonyms;
DROP INDEX audit_log_patient_ids;
ALTER TABLE audit_log
    DROP COLUMN patient_pseudonyms,
    DROP COLUMN patient_ids;
