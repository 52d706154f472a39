-- Report facts (docs/architecture.md, "Pathway facts"): what the indicator and completeness
-- reports need from a pathway's forms and its patient, kept beside the worklist facts of
-- migration 000003 so that a report is one pass over `pathways` (and, for the measurement
-- points, one over `forms`) instead of anti-joins over every form of the register.
--
-- On `pathways` (all NULL while the form they come from is not completed):
-- * `patient_sex`, `patient_birth_year`: the patient's (a patient row never changes); filled in
--   on insert from `patients` when the writer leaves them out.
-- * `baseline_unit_id`, `baseline_date`, `baseline_somatic_health_assessed`: the completed baseline.
-- * `first_measurement_*`: the first completed measurement (earliest event_date, then lowest
--   form id): its unit, date, treatment plan, crisis plan and benefit.
-- * `discharge_unit_id`, `discharge_agreed_follow_up`: of the completed discharge (its date,
--   ending and consent are worklist facts already).
-- * `follow_up_outcome`: of the completed follow-up.
-- On `forms`:
-- * `previous_date`: for a measurement, the latest event_date of another completed baseline or
--   measurement of the pathway on or before its own (NULL: none), the point its gap is counted from.
--
-- One function computes every fact of a pathway (worklist and report facts), one refresh stores
-- them; the triggers of migration 000003 are replaced by triggers that call it, on `forms` and on
-- each typed table (a loader may write a completed form before its typed row). A completed form's
-- typed row is read-only, so the typed-table triggers find nothing to do on a draft's save.

ALTER TABLE pathways
    ADD COLUMN patient_sex smallint CHECK (patient_sex IN (1, 2, 9)),
    ADD COLUMN patient_birth_year smallint CHECK (patient_birth_year >= 1854),
    ADD COLUMN baseline_unit_id bigint,
    ADD COLUMN baseline_date date,
    ADD COLUMN baseline_somatic_health_assessed smallint,
    ADD COLUMN first_measurement_unit_id bigint,
    ADD COLUMN first_measurement_date date,
    ADD COLUMN first_measurement_treatment_plan smallint,
    ADD COLUMN first_measurement_crisis_plan smallint,
    ADD COLUMN first_measurement_benefit smallint,
    ADD COLUMN discharge_unit_id bigint,
    ADD COLUMN discharge_agreed_follow_up smallint[],
    ADD COLUMN follow_up_outcome smallint;
ALTER TABLE forms ADD COLUMN previous_date date;

DROP TRIGGER discharge_forms_worklist_facts ON discharge_forms;
DROP TRIGGER forms_worklist_facts_update ON forms;
DROP TRIGGER forms_worklist_facts_insert_delete ON forms;
DROP FUNCTION rusreg_discharge_forms_worklist_facts();
DROP FUNCTION rusreg_forms_worklist_facts();
DROP FUNCTION rusreg_refresh_worklist_facts(uuid);
DROP FUNCTION rusreg_worklist_facts(uuid);

-- Every fact of one pathway, recomputed from its forms.
CREATE FUNCTION rusreg_pathway_facts(p uuid,
    OUT anchor_date date, OUT last_form_date date, OUT discharge_date date, OUT discharge_ending smallint,
    OUT discharge_contact_consent_1y smallint, OUT follow_up_done boolean,
    OUT baseline_unit_id bigint, OUT baseline_date date, OUT baseline_somatic_health_assessed smallint,
    OUT first_measurement_unit_id bigint, OUT first_measurement_date date,
    OUT first_measurement_treatment_plan smallint, OUT first_measurement_crisis_plan smallint,
    OUT first_measurement_benefit smallint, OUT discharge_unit_id bigint,
    OUT discharge_agreed_follow_up smallint[], OUT follow_up_outcome smallint)
    LANGUAGE sql STABLE AS
$$
SELECT a.anchor_date, a.last_form_date, d.event_date, dd.ending, dd.contact_consent_1y, fu.id IS NOT NULL,
       b.unit_id, b.event_date, bb.somatic_health_assessed,
       m.unit_id, m.event_date, m.treatment_plan, m.crisis_plan, m.benefit,
       d.unit_id, dd.agreed_follow_up, uu.outcome
FROM (SELECT max(f.event_date) FILTER (WHERE f.kind IN ('baseline', 'measurement') AND f.status = 'completed')
                 AS anchor_date,
             max(f.event_date) AS last_form_date
      FROM forms f WHERE f.pathway_id = p) a
LEFT JOIN forms b ON b.pathway_id = p AND b.kind = 'baseline' AND b.status = 'completed'
LEFT JOIN baseline_forms bb ON bb.form_id = b.id
LEFT JOIN LATERAL (
    SELECT f.unit_id, f.event_date, mm.treatment_plan, mm.crisis_plan, mm.benefit
    FROM forms f
    LEFT JOIN measurement_forms mm ON mm.form_id = f.id
    WHERE f.pathway_id = p AND f.kind = 'measurement' AND f.status = 'completed'
    ORDER BY f.event_date, f.id
    LIMIT 1) m ON true
LEFT JOIN forms d ON d.pathway_id = p AND d.kind = 'discharge' AND d.status = 'completed'
LEFT JOIN discharge_forms dd ON dd.form_id = d.id
LEFT JOIN forms fu ON fu.pathway_id = p AND fu.kind = 'follow-up' AND fu.status = 'completed'
LEFT JOIN follow_up_forms uu ON uu.form_id = fu.id
$$;

-- Stores the recomputed facts of pathway `p` and the previous dates of its measurements (when
-- they changed). Locks the pathway row first, then reads the forms in a new statement: under
-- READ COMMITTED that statement sees every form change committed by a transaction that held the
-- lock before, so two concurrent form changes on one pathway cannot leave stale facts behind.
CREATE FUNCTION rusreg_refresh_pathway_facts(p uuid) RETURNS void
    LANGUAGE plpgsql VOLATILE AS
$$
DECLARE
    r record;
BEGIN
    PERFORM 1 FROM pathways WHERE id = p FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN; -- the pathway is being deleted with its forms
    END IF;
    SELECT * INTO r FROM rusreg_pathway_facts(p);
    UPDATE pathways
    SET anchor_date = r.anchor_date, last_form_date = r.last_form_date, discharge_date = r.discharge_date,
        discharge_ending = r.discharge_ending, discharge_contact_consent_1y = r.discharge_contact_consent_1y,
        follow_up_done = r.follow_up_done, baseline_unit_id = r.baseline_unit_id, baseline_date = r.baseline_date,
        baseline_somatic_health_assessed = r.baseline_somatic_health_assessed,
        first_measurement_unit_id = r.first_measurement_unit_id, first_measurement_date = r.first_measurement_date,
        first_measurement_treatment_plan = r.first_measurement_treatment_plan,
        first_measurement_crisis_plan = r.first_measurement_crisis_plan,
        first_measurement_benefit = r.first_measurement_benefit, discharge_unit_id = r.discharge_unit_id,
        discharge_agreed_follow_up = r.discharge_agreed_follow_up, follow_up_outcome = r.follow_up_outcome
    WHERE id = p
      AND (anchor_date, last_form_date, discharge_date, discharge_ending, discharge_contact_consent_1y, follow_up_done,
           baseline_unit_id, baseline_date, baseline_somatic_health_assessed, first_measurement_unit_id,
           first_measurement_date, first_measurement_treatment_plan, first_measurement_crisis_plan,
           first_measurement_benefit, discharge_unit_id, discharge_agreed_follow_up, follow_up_outcome)
          IS DISTINCT FROM
          (r.anchor_date, r.last_form_date, r.discharge_date, r.discharge_ending, r.discharge_contact_consent_1y,
           r.follow_up_done, r.baseline_unit_id, r.baseline_date, r.baseline_somatic_health_assessed,
           r.first_measurement_unit_id, r.first_measurement_date, r.first_measurement_treatment_plan,
           r.first_measurement_crisis_plan, r.first_measurement_benefit, r.discharge_unit_id,
           r.discharge_agreed_follow_up, r.follow_up_outcome);
    -- Writing previous_date moves none of the columns the forms trigger watches: no recursion.
    UPDATE forms f
    SET previous_date = x.previous_date
    FROM (SELECT m.id,
                 (SELECT max(a.event_date) FROM forms a
                  WHERE a.pathway_id = p AND a.status = 'completed' AND a.kind IN ('baseline', 'measurement')
                    AND a.id <> m.id AND a.event_date <= m.event_date) AS previous_date
          FROM forms m WHERE m.pathway_id = p AND m.kind = 'measurement') x
    WHERE f.id = x.id AND f.previous_date IS DISTINCT FROM x.previous_date;
END
$$;

CREATE FUNCTION rusreg_forms_pathway_facts() RETURNS trigger
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
CREATE FUNCTION rusreg_typed_forms_pathway_facts() RETURNS trigger
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

CREATE TRIGGER forms_pathway_facts_insert_delete AFTER INSERT OR DELETE ON forms
    FOR EACH ROW WHEN (current_setting('rusreg.bulk_load', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION rusreg_forms_pathway_facts();
-- Only changes that can move a fact: a draft saved with the same date changes no pathway row.
CREATE TRIGGER forms_pathway_facts_update AFTER UPDATE ON forms
    FOR EACH ROW WHEN (current_setting('rusreg.bulk_load', true) IS DISTINCT FROM 'on'
                       AND (OLD.event_date IS DISTINCT FROM NEW.event_date OR OLD.status <> NEW.status
                            OR OLD.kind <> NEW.kind OR OLD.pathway_id <> NEW.pathway_id
                            OR OLD.unit_id <> NEW.unit_id))
    EXECUTE FUNCTION rusreg_forms_pathway_facts();
CREATE TRIGGER baseline_forms_pathway_facts AFTER INSERT OR UPDATE OR DELETE ON baseline_forms
    FOR EACH ROW WHEN (current_setting('rusreg.bulk_load', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION rusreg_typed_forms_pathway_facts();
CREATE TRIGGER measurement_forms_pathway_facts AFTER INSERT OR UPDATE OR DELETE ON measurement_forms
    FOR EACH ROW WHEN (current_setting('rusreg.bulk_load', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION rusreg_typed_forms_pathway_facts();
CREATE TRIGGER discharge_forms_pathway_facts AFTER INSERT OR UPDATE OR DELETE ON discharge_forms
    FOR EACH ROW WHEN (current_setting('rusreg.bulk_load', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION rusreg_typed_forms_pathway_facts();
CREATE TRIGGER follow_up_forms_pathway_facts AFTER INSERT OR UPDATE OR DELETE ON follow_up_forms
    FOR EACH ROW WHEN (current_setting('rusreg.bulk_load', true) IS DISTINCT FROM 'on')
    EXECUTE FUNCTION rusreg_typed_forms_pathway_facts();

-- The patient's sex and birth year, when the writer leaves them out (the API does; the loader
-- writes them).
CREATE FUNCTION rusreg_pathways_patient_facts() RETURNS trigger
    LANGUAGE plpgsql AS
$$
BEGIN
    SELECT pt.sex, pt.birth_year INTO NEW.patient_sex, NEW.patient_birth_year
    FROM patients pt WHERE pt.id = NEW.patient_id;
    RETURN NEW;
END
$$;
CREATE TRIGGER pathways_patient_facts BEFORE INSERT ON pathways
    FOR EACH ROW WHEN (NEW.patient_sex IS NULL OR NEW.patient_birth_year IS NULL)
    EXECUTE FUNCTION rusreg_pathways_patient_facts();

-- Backfill from the patients and forms already there, set-based.
UPDATE pathways p
SET patient_sex = x.sex, patient_birth_year = x.birth_year,
    baseline_unit_id = x.b_unit, baseline_date = x.b_date, baseline_somatic_health_assessed = x.b_somatic,
    first_measurement_unit_id = x.m_unit, first_measurement_date = x.m_date,
    first_measurement_treatment_plan = x.m_treatment_plan, first_measurement_crisis_plan = x.m_crisis_plan,
    first_measurement_benefit = x.m_benefit, discharge_unit_id = x.d_unit,
    discharge_agreed_follow_up = x.d_agreed_follow_up, follow_up_outcome = x.u_outcome
FROM (
    SELECT q.id, pt.sex, pt.birth_year, b.unit_id AS b_unit, b.event_date AS b_date,
           b.somatic_health_assessed AS b_somatic, m.unit_id AS m_unit, m.event_date AS m_date,
           m.treatment_plan AS m_treatment_plan, m.crisis_plan AS m_crisis_plan, m.benefit AS m_benefit,
           d.unit_id AS d_unit, d.agreed_follow_up AS d_agreed_follow_up, u.outcome AS u_outcome
    FROM pathways q
    JOIN patients pt ON pt.id = q.patient_id
    LEFT JOIN (SELECT f.pathway_id, f.unit_id, f.event_date, bb.somatic_health_assessed
               FROM forms f LEFT JOIN baseline_forms bb ON bb.form_id = f.id
               WHERE f.kind = 'baseline' AND f.status = 'completed') b ON b.pathway_id = q.id
    LEFT JOIN (SELECT DISTINCT ON (f.pathway_id) f.pathway_id, f.unit_id, f.event_date, mm.treatment_plan,
                      mm.crisis_plan, mm.benefit
               FROM forms f LEFT JOIN measurement_forms mm ON mm.form_id = f.id
               WHERE f.kind = 'measurement' AND f.status = 'completed'
               ORDER BY f.pathway_id, f.event_date, f.id) m ON m.pathway_id = q.id
    LEFT JOIN (SELECT f.pathway_id, f.unit_id, dd.agreed_follow_up
               FROM forms f LEFT JOIN discharge_forms dd ON dd.form_id = f.id
               WHERE f.kind = 'discharge' AND f.status = 'completed') d ON d.pathway_id = q.id
    LEFT JOIN (SELECT f.pathway_id, uu.outcome
               FROM forms f LEFT JOIN follow_up_forms uu ON uu.form_id = f.id
               WHERE f.kind = 'follow-up' AND f.status = 'completed') u ON u.pathway_id = q.id
) x
WHERE x.id = p.id;
ALTER TABLE pathways ALTER COLUMN patient_sex SET NOT NULL, ALTER COLUMN patient_birth_year SET NOT NULL;

-- The previous dates of the measurements: the latest completed baseline or measurement date on
-- or before each one's own date, itself excluded (RANGE takes in the same date's other forms).
UPDATE forms f
SET previous_date = x.previous_date
FROM (
    SELECT a.id, a.kind, a.event_date,
           max(a.event_date) FILTER (WHERE a.status = 'completed')
               OVER (PARTITION BY a.pathway_id ORDER BY a.event_date
                     RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW EXCLUDE CURRENT ROW) AS previous_date
    FROM forms a
    WHERE a.kind IN ('baseline', 'measurement')
) x
WHERE x.id = f.id AND x.kind = 'measurement' AND x.event_date IS NOT NULL AND x.previous_date IS NOT NULL;

-- The completed measurements by date with what the completeness report reads of them: an
-- index-only scan instead of a pass over every form.
CREATE INDEX forms_completed_measurements ON forms (event_date) INCLUDE (pathway_id, unit_id, previous_date)
    WHERE kind = 'measurement' AND status = 'completed';

-- The discharge forms by date (drafts: created), for the completeness report's discharges.
CREATE INDEX forms_discharges ON forms (event_date) INCLUDE (unit_id, status, created_at) WHERE kind = 'discharge';
