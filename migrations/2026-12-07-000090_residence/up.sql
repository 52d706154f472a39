-- Residence (docs/residence.md): where a patient lived when the pathway started, the areas it
-- can name (municipalities and Oslo's city districts, each valid for a period), the catchment
-- areas that map an area to the health trust responsible for its inhabitants, and the population
-- by area, sex, age and year that rates are computed from. All three are reference data, read by
-- the server and loaded through the register staff's imports.

-- A municipality (four digits) or a city district (six digits: the municipality and two more).
-- The 2020 and 2024 municipal reforms changed numbers: a code is valid for a period, and a code
-- that was replaced names its successor.
CREATE TABLE residence_areas (
    code text NOT NULL CHECK (code ~ '^[0-9]{4}([0-9]{2})?$' AND code NOT LIKE '0000%'),
    valid_from date NOT NULL,
    valid_to date CHECK (valid_to IS NULL OR valid_to > valid_from),
    name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    successor text CHECK (successor ~ '^[0-9]{4}([0-9]{2})?$' AND successor <> code),
    CHECK (successor IS NULL OR valid_to IS NOT NULL),
    PRIMARY KEY (code, valid_from)
);

-- Catchment areas (opptaksområder): the health trust responsible for the inhabitants of an area
-- over a period. The region is the trust's region in the organisation tree.
CREATE TABLE catchment_areas (
    area_code text NOT NULL CHECK (area_code ~ '^[0-9]{4}([0-9]{2})?$'),
    valid_from date NOT NULL,
    valid_to date CHECK (valid_to IS NULL OR valid_to > valid_from),
    trust_id bigint NOT NULL REFERENCES org_nodes (id),
    PRIMARY KEY (area_code, valid_from)
);
CREATE INDEX catchment_areas_trust ON catchment_areas (trust_id);

-- Population on 1 January of `year` by area, sex (1 male, 2 female) and age in whole years (the
-- oldest age group of the source, such as 105 or older, is stored as its lower bound).
-- `synthetic` marks the made-up population of the demo.
CREATE TABLE populations (
    year smallint NOT NULL CHECK (year BETWEEN 1990 AND 2200),
    area_code text NOT NULL CHECK (area_code ~ '^[0-9]{4}([0-9]{2})?$'),
    sex smallint NOT NULL CHECK (sex IN (1, 2)),
    age smallint NOT NULL CHECK (age BETWEEN 0 AND 130),
    persons integer NOT NULL CHECK (persons >= 0),
    synthetic boolean NOT NULL DEFAULT false,
    PRIMARY KEY (year, area_code, sex, age)
);

-- The patient's area of residence when the pathway started (a code valid on the start date;
-- in Oslo the city district). NULL: not recorded (pathways registered before the field, or a
-- patient without a fixed address in Norway).
ALTER TABLE pathways ADD COLUMN residence_code text
    CHECK (residence_code ~ '^[0-9]{4}([0-9]{2})?$');

-- The inner counts kept with a release carry the residence split of pathways started (see
-- persistence::reports::CountRow); counts kept before this migration are not split (kind 0).
ALTER TABLE release_counts
    ADD COLUMN residence_kind smallint NOT NULL DEFAULT 0 CHECK (residence_kind IN (0, 1, 2)),
    ADD COLUMN residence_trust_id bigint;

-- Reference data is added and corrected through imports; nothing is deleted.
GRANT SELECT, INSERT ON residence_areas, catchment_areas TO rusreg_server;
GRANT UPDATE (valid_to, successor, name) ON residence_areas TO rusreg_server;
GRANT UPDATE (valid_to, trust_id) ON catchment_areas TO rusreg_server;
GRANT SELECT, INSERT ON populations TO rusreg_server;
GRANT UPDATE (persons, synthetic) ON populations TO rusreg_server;
