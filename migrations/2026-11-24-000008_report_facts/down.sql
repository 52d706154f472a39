-- Back to the worklist facts of migration 000003: its functions and triggers as they were.
DROP INDEX forms_discharges;
DROP INDEX forms_completed_measurements;
DROP TRIGGER pathways_patient_facts ON pathways;
DROP TRIGGER follow_up_forms_pathway_facts ON follow_up_forms;
DROP TRIGGER discharge_forms_pathway_facts ON discharge_forms;
DROP TRIGGER measurement_forms_pathway_facts ON measurement_forms;
DROP TRIGGER baseline_forms_pathway_facts ON baseline_forms;
DROP TRIGGER forms_pathway_facts_update ON forms;
DROP TRIGGER forms_pathway_facts_insert_delete ON forms;
DROP FUNCTION rusreg_pathways_patient_facts();
DROP FUNCTION rusreg_typed_forms_pathway_facts();
DROP FUNCTION rusreg_forms_pathway_facts();
DROP FUNCTION rusreg_refresh_pathway_facts(uuid);
DROP FUNCTION rusreg_pathway_facts(uuid);
ALTER TABLE forms DROP COLUMN previous_date;
ALTER TABLE pathways
    DROP COLUMN patient_sex,
    DROP COLUMN patient_birth_year,
    DROP COLUMN baseline_unit_id,
    DROP COLUMN baseline_date,
    DROP COLUMN baseline_somatic_health_assessed,
    DROP COLUMN first_measurement_unit_id,
    DROP COLUMN first_measurement_date,
    DROP COLUMN first_measurement_treatment_plan,
    DROP COLUMN first_measurement_crisis_plan,
    DROP COLUMN first_measurement_benefit,
    DROP COLUMN discharge_unit_id,
    DROP COLUMN discharge_agreed_follow_up,
    DROP COLUMN follow_up_outcome;

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
