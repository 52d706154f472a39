CREATE FUNCTION rusreg_icd10_all(codes text[], pattern text) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT AS
$$ SELECT coalesce(bool_and(c ~ '^[A-Z][0-9]{2}(\.[0-9]{1,2})?$' AND c ~ pattern), true) FROM unnest(codes) AS c $$;

ALTER TABLE baseline_forms
    DROP CONSTRAINT baseline_forms_referral_diagnosis_check,
    DROP CONSTRAINT baseline_forms_substance_diagnoses_check,
    DROP CONSTRAINT baseline_forms_psychiatric_diagnoses_check,
    DROP CONSTRAINT baseline_forms_somatic_diagnoses_check,
    ADD CONSTRAINT baseline_forms_referral_diagnosis_check
        CHECK (rusreg_icd10_all(ARRAY[referral_diagnosis], '')),
    ADD CONSTRAINT baseline_forms_substance_diagnoses_check CHECK (cardinality(substance_diagnoses) <= 20
        AND rusreg_icd10_all(substance_diagnoses, '^F1[0-9]\.')),
    ADD CONSTRAINT baseline_forms_psychiatric_diagnoses_check CHECK (cardinality(psychiatric_diagnoses) <= 20
        AND rusreg_icd10_all(psychiatric_diagnoses, '^F[02-9]')),
    ADD CONSTRAINT baseline_forms_somatic_diagnoses_check CHECK (cardinality(somatic_diagnoses) <= 20
        AND rusreg_icd10_all(somatic_diagnoses, '^[A-EG-Z]'));
