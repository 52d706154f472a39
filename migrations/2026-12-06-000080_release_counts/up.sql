-- The inner counts each release was built from (docs/suppression.md, "Auditing a release
-- together with the earlier releases of its year"): the counts of the release's linked table,
-- per placement (unit, with the legal entity and region it was under), sex, age group and the
-- three yes/no outcomes of the population. They are what the auditor needs to check a later
-- release of the same year together with this one, as one model in which every change between
-- the two is a count as well. Never shown to anyone; written with the release, never changed.
CREATE TABLE release_counts (
    release_id bigint NOT NULL REFERENCES releases (id),
    -- The count's place in the release (1, 2, ...).
    row_number integer NOT NULL,
    -- domain::indicators::Population.
    population text NOT NULL,
    unit_id bigint NOT NULL REFERENCES org_nodes (id),
    entity_id bigint REFERENCES org_nodes (id),
    region_id bigint REFERENCES org_nodes (id),
    -- patients.sex.
    sex smallint NOT NULL,
    -- The index into domain::indicators::AGE_GROUPS.
    age_group smallint NOT NULL,
    o1 boolean NOT NULL,
    o2 boolean NOT NULL,
    o3 boolean NOT NULL,
    n bigint NOT NULL CHECK (n >= 0),
    PRIMARY KEY (release_id, row_number)
);

CREATE FUNCTION rusreg_release_counts_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'release counts are append-only' USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER release_counts_append_only BEFORE UPDATE OR DELETE ON release_counts
    FOR EACH ROW EXECUTE FUNCTION rusreg_release_counts_append_only();
CREATE TRIGGER release_counts_no_truncate BEFORE TRUNCATE ON release_counts
    FOR EACH STATEMENT EXECUTE FUNCTION rusreg_release_counts_append_only();
-- Written with their release, in the transaction that creates it (as the release's cells).
CREATE TRIGGER release_counts_with_release BEFORE INSERT ON release_counts
    FOR EACH ROW EXECUTE FUNCTION rusreg_release_cells_with_release();

GRANT SELECT, INSERT ON release_counts TO rusreg_server;
