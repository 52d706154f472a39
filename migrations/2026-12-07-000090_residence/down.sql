ALTER TABLE release_counts DROP COLUMN residence_trust_id, DROP COLUMN residence_kind;
ALTER TABLE pathways DROP COLUMN residence_code;
DROP TABLE populations;
DROP TABLE catchment_areas;
DROP TABLE residence_areas;
