-- The facts recomputation with its query in one PL/pgSQL statement (docs/architecture.md,
-- "Pathway facts"). `rusreg_refresh_pathway_facts` read the facts through the SQL function
-- `rusreg_pathway_facts(p)`, which PostgreSQL planned anew on every call (a SQL function called
-- from PL/pgSQL is not inlined, and its plan lives only for the calling statement): about 0.8 ms
-- of planning for every pathway recomputed, against about 0.1 ms with the same query written
-- in the PL/pgSQL function, whose statement plans are kept for the session. Same query, same
-- lock order, same writes; the SQL function had no other caller and is dropped, so the query
-- has one definition.

-- Stores the recomputed facts of pathway `p` and the previous dates and levels of its
-- measurements (when they changed). Locks the pathway row first, then reads the forms in a new
-- statement: under READ COMMITTED that statement sees every form change committed by a
-- transaction that held the lock before, so two concurrent form changes on one pathway cannot
-- leave stale facts behind.
CREATE OR REPLACE FUNCTION rusreg_refresh_pathway_facts(p uuid) RETURNS void
    LANGUAGE plpgsql VOLATILE AS
$$
DECLARE
    r record;
BEGIN
    PERFORM 1 FROM pathways WHERE id = p FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN; -- the pathway is being deleted with its forms
    END IF;
    -- Every fact of the pathway, recomputed from its forms (what rusreg_pathway_facts(p) was).
    SELECT a.anchor_date, a.last_form_date, d.event_date AS discharge_date, dd.ending AS discharge_ending,
           dd.contact_consent_1y AS discharge_contact_consent_1y, fu.id IS NOT NULL AS follow_up_done,
           b.unit_id AS baseline_unit_id, b.event_date AS baseline_date,
           bb.somatic_health_assessed AS baseline_somatic_health_assessed,
           m.unit_id AS first_measurement_unit_id, m.event_date AS first_measurement_date,
           m.treatment_plan AS first_measurement_treatment_plan, m.crisis_plan AS first_measurement_crisis_plan,
           m.benefit AS first_measurement_benefit, d.unit_id AS discharge_unit_id,
           dd.agreed_follow_up AS discharge_agreed_follow_up, uu.outcome AS follow_up_outcome,
           l.treatment_level AS current_treatment_level
           INTO r
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
    LEFT JOIN LATERAL (
        SELECT mm.treatment_level
        FROM forms f
        LEFT JOIN measurement_forms mm ON mm.form_id = f.id
        WHERE f.pathway_id = p AND f.kind = 'measurement' AND f.status = 'completed'
        ORDER BY f.event_date DESC, f.id DESC
        LIMIT 1) l ON true
    LEFT JOIN forms d ON d.pathway_id = p AND d.kind = 'discharge' AND d.status = 'completed'
    LEFT JOIN discharge_forms dd ON dd.form_id = d.id
    LEFT JOIN forms fu ON fu.pathway_id = p AND fu.kind = 'follow-up' AND fu.status = 'completed'
    LEFT JOIN follow_up_forms uu ON uu.form_id = fu.id;
    UPDATE pathways
    SET anchor_date = r.anchor_date, last_form_date = r.last_form_date, discharge_date = r.discharge_date,
        discharge_ending = r.discharge_ending, discharge_contact_consent_1y = r.discharge_contact_consent_1y,
        follow_up_done = r.follow_up_done, baseline_unit_id = r.baseline_unit_id, baseline_date = r.baseline_date,
        baseline_somatic_health_assessed = r.baseline_somatic_health_assessed,
        first_measurement_unit_id = r.first_measurement_unit_id, first_measurement_date = r.first_measurement_date,
        first_measurement_treatment_plan = r.first_measurement_treatment_plan,
        first_measurement_crisis_plan = r.first_measurement_crisis_plan,
        first_measurement_benefit = r.first_measurement_benefit, discharge_unit_id = r.discharge_unit_id,
        discharge_agreed_follow_up = r.discharge_agreed_follow_up, follow_up_outcome = r.follow_up_outcome,
        current_treatment_level = r.current_treatment_level
    WHERE id = p
      AND (anchor_date, last_form_date, discharge_date, discharge_ending, discharge_contact_consent_1y, follow_up_done,
           baseline_unit_id, baseline_date, baseline_somatic_health_assessed, first_measurement_unit_id,
           first_measurement_date, first_measurement_treatment_plan, first_measurement_crisis_plan,
           first_measurement_benefit, discharge_unit_id, discharge_agreed_follow_up, follow_up_outcome,
           current_treatment_level)
          IS DISTINCT FROM
          (r.anchor_date, r.last_form_date, r.discharge_date, r.discharge_ending, r.discharge_contact_consent_1y,
           r.follow_up_done, r.baseline_unit_id, r.baseline_date, r.baseline_somatic_health_assessed,
           r.first_measurement_unit_id, r.first_measurement_date, r.first_measurement_treatment_plan,
           r.first_measurement_crisis_plan, r.first_measurement_benefit, r.discharge_unit_id,
           r.discharge_agreed_follow_up, r.follow_up_outcome, r.current_treatment_level);
    -- Writing previous_date and previous_treatment_level moves none of the columns the forms
    -- trigger watches: no recursion.
    UPDATE forms f
    SET previous_date = x.previous_date, previous_treatment_level = x.previous_treatment_level
    FROM (SELECT m.id,
                 (SELECT max(a.event_date) FROM forms a
                  WHERE a.pathway_id = p AND a.status = 'completed' AND a.kind IN ('baseline', 'measurement')
                    AND a.id <> m.id AND a.event_date <= m.event_date) AS previous_date,
                 (SELECT aa.treatment_level FROM forms a LEFT JOIN measurement_forms aa ON aa.form_id = a.id
                  WHERE a.pathway_id = p AND a.status = 'completed' AND a.kind = 'measurement'
                    AND a.id <> m.id AND a.event_date <= m.event_date
                  ORDER BY a.event_date DESC, a.id DESC
                  LIMIT 1) AS previous_treatment_level
          FROM forms m WHERE m.pathway_id = p AND m.kind = 'measurement') x
    WHERE f.id = x.id
      AND (f.previous_date, f.previous_treatment_level) IS DISTINCT FROM (x.previous_date, x.previous_treatment_level);
END
$$;

DROP FUNCTION rusreg_pathway_facts(uuid);
