-- Completeness snapshots: the counts register contacts are shown, frozen, so that the later
-- publications of the same year can be protected together with them (docs/suppression.md §0).
--
-- * `completeness_snapshots`: the completeness and variable-completeness counts of a year as
--   register contacts are shown them, frozen on a day: one per release (tied to the release's
--   pattern on the counts both share) and one per month of a year without a published release,
--   each protected with the earlier snapshots of the year fixed. `cells` holds every count the
--   table shows with its value and whether it is withheld. Append-only.

CREATE TABLE completeness_snapshots (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    year smallint NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    -- `release-<id>` for a release's snapshot, `YYYY-MM` for a monthly one.
    period text NOT NULL CHECK (period ~ '^(release-[0-9]+|[0-9]{4}-[0-9]{2})$'),
    release_id bigint REFERENCES releases (id),
    taken_on date NOT NULL,
    min_cell smallint NOT NULL CHECK (min_cell >= 3),
    counts jsonb NOT NULL,
    cells jsonb NOT NULL,
    audit jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (year, period),
    CHECK ((release_id IS NOT NULL) = (period LIKE 'release-%'))
);

CREATE FUNCTION rusreg_snapshots_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'completeness snapshots are append-only' USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER completeness_snapshots_append_only BEFORE UPDATE OR DELETE ON completeness_snapshots
    FOR EACH ROW EXECUTE FUNCTION rusreg_snapshots_append_only();
CREATE TRIGGER completeness_snapshots_no_truncate BEFORE TRUNCATE ON completeness_snapshots
    FOR EACH STATEMENT EXECUTE FUNCTION rusreg_snapshots_append_only();
