-- Worklist facts on the pathway row (docs/architecture.md, "Worklist facts"): what the due-date
-- rules of domain::worklist need from a pathway's forms, kept on `pathways` so that the worklist
-- is one index-only scan of the unit's pathways instead of an aggregate over their forms (the
-- index, pathways_worklist, is built concurrently by the next migration but one).
--
-- * `anchor_date`: the latest event_date of a completed baseline or measurement (the anchor of
--   the next measurement; NULL = the baseline is still asked for). The rules need no more of the
--   measurement dates than their latest one.
-- * `last_form_date`: the latest event_date of any form, draft or completed ("possibly ended").
-- * `discharge_date`, `discharge_ending`, `discharge_contact_consent_1y`: of the completed
--   discharge (all NULL while there is none).
-- * `follow_up_done`: a follow-up is completed.
--
-- They are derived data, kept right by triggers on `forms` and `discharge_forms` that recompute
-- the facts of the pathway from its forms in the same transaction as the change (so no code
-- path can forget them). A bulk loader that writes the facts itself may switch the triggers off
-- for its own session with `SET rusreg.bulk_load = 'on'` (persistence::synthetic does).

ALTER TABLE pathways
    ADD COLUMN anchor_date date,
    ADD COLUMN last_form_date date,
    ADD COLUMN discharge_date date,
    ADD COLUMN discharge_ending smallint CHECK (discharge_ending BETWEEN 2 AND 4),
    ADD COLUMN discharge_contact_consent_1y smallint CHECK (discharge_contact_consent_1y BETWEEN 1 AND 2),
    ADD COLUMN follow_up_done boolean NOT NULL DEFAULT false;

-- The facts of one pathway, recomputed from its forms.
CREATE FUNCTION rusreg_worklist_facts(p uuid,
    OUT anchor_date date, OUT last_form_date date, OUT discharge_date date, OUT discharge_ending smallint,
    OUT discharge_contact_consent_1y smallint, OUT follow_up_done boolean)
    LANGUAGE sql STABLE AS
$$
SELECT max(f.event_date) FILTER (WHERE f.kind IN ('baseline', 'measurement') AND f.status = 'completed'),
       max(f.event_date),
       max(f.event_date) FILTER (WHERE f.kind = 'discharge' AND f.status = 'completed'),
       max(d.ending) FILTER (WHERE f.kind = 'discharge' AND f.status = 'completed'),
       max(d.contact_consent_1y) FILTER (WHERE f.kind = 'discharge' AND f.status = 'completed'),
       coalesce(bool_or(f.kind = 'follow-up' AND f.status = 'completed'), false)
FROM forms f
LEFT JOIN discharge_forms d ON d.form_id = f.id
WHERE f.pathway_id = p
$$;

-- Stores the recomputed facts of pathway `p` (when they changed). Locks the pathway row first,
-- then reads the forms in a new statement: under READ COMMITTED that statement sees every form
-- change committed by a transaction that held the lock before, so two concurrent form changes
-- on one pathway cannot leave stale facts behind.
CREATE FUNCTION rusreg_refresh_worklist_facts(p uuid) RETURNS void
    LANGUAGE plpgsql VOLATILE AS
$$
DECLARE
    r record;
BEGIN
    PERFORM 1 FROM pathways WHERE id = p FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN; -- the pathway is being deleted with its forms
    END IF;
    SELECT * INTO r FROM rusreg_worklist_facts(p);
    UPDATE pathways
    SET anchor_date = r.anchor_date, last_form_date = r.last_form_date, discharge_date = r.discharge_date,
        discharge_ending = r.discharge_ending, discharge_contact_consent_1y = r.discharge_contact_consent_1y,
        follow_up_done = r.follow_up_done
    WHERE id = p
      AND (anchor_date, last_form_date, discharge_date, discharge_ending, discharge_contact_consent_1y, follow_up_done)
          IS DISTINCT FROM (r.anchor_date, r.last_form_date, r.discharge_date, r.discharge_ending,
                            r.discharge_contact_consent_1y, r.follow_up_done);
END
$$;

CREATE FUNCTION rusreg_forms_worklist_facts() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM rusreg_refresh_worklist_facts(OLD.pathway_id);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.pathway_id <> OLD.pathway_id) THEN
        PERFORM rusreg_refresh_worklist_facts(NEW.pathway_id);
    END IF;
    RETURN NULL;
END
$$;

-- The typed row of a discharge holds the ending and the consent; only a completed discharge
-- counts, and a completed form's typed row is read-only, so this fires for real only when a
-- loader writes a completed form before its typed row.
CREATE FUNCTION rusreg_discharge_forms_worklist_facts() RETURNS trigger
    LANGUAGE plpgsql AS
$$
DECLARE
    form uuid := CASE WHEN TG_OP = 'DELETE' THEN OLD.form_id ELSE NEW.form_id END;
    pathway uuid;
BEGIN
    SELECT f.pathway_id INTO pathway FROM forms f WHERE f.id = form AND f.status = 'completed';
    IF pathway IS NOT NULL THEN
        PERFORM rusreg_refresh_worklist_facts(pathway);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER forms_worklist_facts_insert_delete AFTER INSERT OR DELETE ON forms
    FOR EACH ROW WHEN (current_setting('rusreg.bulk_load', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION rusreg_forms_worklist_facts();
-- Only changes that can move a fact: a draft saved with the same date changes no pathway row.
CREATE TRIGGER forms_worklist_facts_update AFTER UPDATE ON forms
    FOR EACH ROW WHEN (current_setting('rusreg.bulk_load', true) IS DISTINCT FROM 'on'
                       AND (OLD.event_date IS DISTINCT FROM NEW.event_date OR OLD.status <> NEW.status
                            OR OLD.kind <> NEW.kind OR OLD.pathway_id <> NEW.pathway_id))
    EXECUTE FUNCTION rusreg_forms_worklist_facts();
CREATE TRIGGER discharge_forms_worklist_facts AFTER INSERT OR UPDATE OR DELETE ON discharge_forms
    FOR EACH ROW WHEN (current_setting('rusreg.bulk_load', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION rusreg_discharge_forms_worklist_facts();

-- Backfill from the forms already there.
UPDATE pathways p
SET anchor_date = f.anchor_date, last_form_date = f.last_form_date, discharge_date = f.discharge_date,
    discharge_ending = f.discharge_ending, discharge_contact_consent_1y = f.discharge_contact_consent_1y,
    follow_up_done = f.follow_up_done
FROM (
    SELECT f.pathway_id,
           max(f.event_date) FILTER (WHERE f.kind IN ('baseline', 'measurement') AND f.status = 'completed') AS anchor_date,
           max(f.event_date) AS last_form_date,
           max(f.event_date) FILTER (WHERE f.kind = 'discharge' AND f.status = 'completed') AS discharge_date,
           max(d.ending) FILTER (WHERE f.kind = 'discharge' AND f.status = 'completed') AS discharge_ending,
           max(d.contact_consent_1y) FILTER (WHERE f.kind = 'discharge' AND f.status = 'completed')
               AS discharge_contact_consent_1y,
           coalesce(bool_or(f.kind = 'follow-up' AND f.status = 'completed'), false) AS follow_up_done
    FROM forms f
    LEFT JOIN discharge_forms d ON d.form_id = f.id
    GROUP BY f.pathway_id
) f
WHERE f.pathway_id = p.id;
