-- Reports: NPR reference counts for coverage, and releases with their cells.
--
-- * `npr_counts`: pathways in the Norwegian Patient Register per unit and year, imported by
--   register staff as CSV (POST /coverage/reference-counts); a later import of the same unit and
--   year replaces the count. Coverage = registered pathways / NPR pathways (docs/indicators.md,
--   "Coverage (dekningsgrad)").
-- * `releases`: one frozen, suppressed and audited set of a year's tables (docs/indicators.md,
--   "Releases"; docs/suppression.md).
--   A release is a draft until published; nothing else about it ever changes (trigger below).
-- * `release_cells`: every published or protected cell of the release's one linked table, with
--   its true value and its status. Downloads and the public endpoint are slices of these rows
--   and show `value` only where `status = 'published'`. The rows are append-only.

CREATE TABLE npr_counts (
    unit_id bigint NOT NULL REFERENCES org_nodes (id),
    year smallint NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    pathways integer NOT NULL CHECK (pathways >= 0),
    imported_by uuid NOT NULL REFERENCES users (id),
    imported_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (unit_id, year)
);

CREATE TABLE releases (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    year smallint NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    -- The suppression threshold k (RUSREG_MIN_CELL or the request's min_cell, never below 3).
    min_cell smallint NOT NULL CHECK (min_cell >= 3),
    status text NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published')),
    -- The latest release of the same year published before this one was built: its published
    -- cells were forced and its suppressed cells kept primary.
    previous_release_id bigint REFERENCES releases (id),
    cells integer NOT NULL,
    published_cells integer NOT NULL,
    primary_cells integer NOT NULL,
    secondary_cells integer NOT NULL,
    -- The auditor's report: cells, primaries, secondaries, disclosures found (always 0 for a
    -- stored release), group disclosures, insider findings, rank.
    audit jsonb NOT NULL,
    -- Engine and build figures (inner cells, timings), for information.
    stats jsonb NOT NULL,
    created_by uuid NOT NULL REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    published_by uuid REFERENCES users (id),
    published_at timestamptz,
    CHECK ((status = 'published') = (published_at IS NOT NULL AND published_by IS NOT NULL))
);
CREATE INDEX releases_year ON releases (year, id);

CREATE TABLE release_cells (
    release_id bigint NOT NULL REFERENCES releases (id),
    -- `activity` (pathways started) or an indicator id of domain::indicators.
    measure text NOT NULL,
    node_id bigint NOT NULL REFERENCES org_nodes (id),
    -- 0 = all, else patients.sex.
    sex smallint NOT NULL CHECK (sex IN (0, 1, 2, 9)),
    -- 0 = all, else 1 + the index into domain::indicators::AGE_GROUPS.
    age_group smallint NOT NULL CHECK (age_group BETWEEN 0 AND 5),
    -- `total` (denominator or count), `yes` (numerator), `no` (complement, protected only).
    outcome text NOT NULL CHECK (outcome IN ('total', 'yes', 'no')),
    value integer NOT NULL CHECK (value >= 0),
    status text NOT NULL CHECK (status IN ('published', 'primary', 'secondary', 'protected')),
    PRIMARY KEY (release_id, measure, node_id, sex, age_group, outcome)
);

-- A release never changes after it is built, except draft -> published (once).
CREATE FUNCTION rusreg_releases_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.status = 'draft' AND NEW.status = 'published'
       AND (NEW.id, NEW.year, NEW.min_cell, NEW.previous_release_id, NEW.cells, NEW.published_cells,
            NEW.primary_cells, NEW.secondary_cells, NEW.audit, NEW.stats, NEW.created_by, NEW.created_at)
           IS NOT DISTINCT FROM
           (OLD.id, OLD.year, OLD.min_cell, OLD.previous_release_id, OLD.cells, OLD.published_cells,
            OLD.primary_cells, OLD.secondary_cells, OLD.audit, OLD.stats, OLD.created_by, OLD.created_at)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'releases are frozen: only draft -> published is allowed'
        USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER releases_frozen BEFORE UPDATE OR DELETE ON releases
    FOR EACH ROW EXECUTE FUNCTION rusreg_releases_frozen();

CREATE FUNCTION rusreg_release_cells_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'release cells are append-only' USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER release_cells_append_only BEFORE UPDATE OR DELETE ON release_cells
    FOR EACH ROW EXECUTE FUNCTION rusreg_release_cells_append_only();
-- Cells are written with their release, in the transaction that creates it; a release that is
-- already committed (draft or published) never gains cells.
CREATE FUNCTION rusreg_release_cells_with_release() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM releases r WHERE r.id = NEW.release_id AND r.xmin = pg_current_xact_id()::xid) THEN
        RAISE EXCEPTION 'release cells are written only with their release' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER release_cells_with_release BEFORE INSERT ON release_cells
    FOR EACH ROW EXECUTE FUNCTION rusreg_release_cells_with_release();
CREATE TRIGGER release_cells_no_truncate BEFORE TRUNCATE ON release_cells
    FOR EACH STATEMENT EXECUTE FUNCTION rusreg_release_cells_append_only();
