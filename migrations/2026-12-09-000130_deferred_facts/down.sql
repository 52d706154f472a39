-- Back to the facts triggers of migration 000008: every row written recomputes its pathway's
-- facts at once.
DROP FUNCTION rusreg_refresh_dirty_pathway_facts(uuid);
DROP TABLE pathway_facts_dirty;
DROP FUNCTION rusreg_pathway_facts_dirty_refresh();

CREATE OR REPLACE FUNCTION rusreg_forms_pathway_facts() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM rusreg_refresh_pathway_facts(OLD.pathway_id);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.pathway_id <> OLD.pathway_id) THEN
        PERFORM rusreg_refresh_pathway_facts(NEW.pathway_id);
    END IF;
    RETURN NULL;
END
$$;

-- A typed row holds the values; only a completed form's count, and a completed form's typed row
-- is read-only, so this fires for real only when a loader writes a completed form before its
-- typed row.
CREATE OR REPLACE FUNCTION rusreg_typed_forms_pathway_facts() RETURNS trigger
    LANGUAGE plpgsql AS
$$
DECLARE
    form uuid := CASE WHEN TG_OP = 'DELETE' THEN OLD.form_id ELSE NEW.form_id END;
    pathway uuid;
BEGIN
    SELECT f.pathway_id INTO pathway FROM forms f WHERE f.id = form AND f.status = 'completed';
    IF pathway IS NOT NULL THEN
        PERFORM rusreg_refresh_pathway_facts(pathway);
    END IF;
    RETURN NULL;
END
$$;
