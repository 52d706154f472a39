-- Birth years from 1854, the first year a national id can encode (individual numbers 500–749
-- with years 54–99), so that every valid dated id can be registered with the year it carries:
-- the D-number example 70019950032 (docs/domain.md, National ids) is born in 1899. Was 1900.
ALTER TABLE patients
    DROP CONSTRAINT patients_birth_year_check,
    ADD CONSTRAINT patients_birth_year_check CHECK (birth_year >= 1854);
