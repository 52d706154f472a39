-- NOT VALID: patients born before 1900 registered meanwhile stay; new rows must be from 1900.
ALTER TABLE patients
    DROP CONSTRAINT patients_birth_year_check,
    ADD CONSTRAINT patients_birth_year_check CHECK (birth_year >= 1900) NOT VALID;
