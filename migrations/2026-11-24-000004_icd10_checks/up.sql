-- Cheaper ICD-10 checks on `baseline_forms`, equally strict: the old CHECKs called the SQL
-- function rusreg_icd10_all (unnest + two regular expressions per code, run through the SQL
-- function executor for every row), which dominated the CPU of bulk loads. Now one regular
-- expression on the array's text form per column. The text form quotes every element that
-- holds a comma, brace, quote, backslash or space (and writes a NULL element as NULL, another
-- dimension as a nested brace, other bounds as a `[m:n]=` prefix), so a quote, `NULL` or any of
-- those make the match fail: an array passes exactly when every element is a valid code of the
-- column's kind. (The old check let NULL elements and multi-dimensional arrays through; the
-- application writes neither.) Code: a letter, two digits, optionally a dot and 1–2 digits.

ALTER TABLE baseline_forms
    DROP CONSTRAINT baseline_forms_referral_diagnosis_check,
    DROP CONSTRAINT baseline_forms_substance_diagnoses_check,
    DROP CONSTRAINT baseline_forms_psychiatric_diagnoses_check,
    DROP CONSTRAINT baseline_forms_somatic_diagnoses_check,
    ADD CONSTRAINT baseline_forms_referral_diagnosis_check
        CHECK (referral_diagnosis ~ '^[A-Z][0-9]{2}(\.[0-9]{1,2})?$'),
    -- F10–F19 with a 4th character.
    ADD CONSTRAINT baseline_forms_substance_diagnoses_check CHECK (cardinality(substance_diagnoses) <= 20
        AND substance_diagnoses::text ~ '^\{(F1[0-9]\.[0-9]{1,2}(,F1[0-9]\.[0-9]{1,2})*)?\}$'),
    -- F, not F1x.
    ADD CONSTRAINT baseline_forms_psychiatric_diagnoses_check CHECK (cardinality(psychiatric_diagnoses) <= 20
        AND psychiatric_diagnoses::text ~ '^\{(F[02-9][0-9](\.[0-9]{1,2})?(,F[02-9][0-9](\.[0-9]{1,2})?)*)?\}$'),
    -- Not F.
    ADD CONSTRAINT baseline_forms_somatic_diagnoses_check CHECK (cardinality(somatic_diagnoses) <= 20
        AND somatic_diagnoses::text ~ '^\{([A-EG-Z][0-9]{2}(\.[0-9]{1,2})?(,[A-EG-Z][0-9]{2}(\.[0-9]{1,2})?)*)?\}$');

DROP FUNCTION rusreg_icd10_all(text[], text);
