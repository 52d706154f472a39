-- The worklist query before migration worklist_facts (aggregating the unit's forms), kept as a
-- baseline for tests/bench/registration.sh. Parameters as in crates/persistence/src/worklist.sql.
-- Facts for the worklist of unit $1 on day $2: active pathways owned by the unit, and those
-- it discharged (ending 3 or 4) within the last $3 days (the follow-up window).
WITH p AS (
    SELECT p.id, p.patient_id, p.start_date, p.treatment_level, p.status
    FROM pathways p
    WHERE p.unit_id = $1
      AND (p.status = 1
           OR (p.status IN (3, 4) AND EXISTS (
                 SELECT 1 FROM forms d
                 WHERE d.pathway_id = p.id AND d.kind = 'discharge' AND d.status = 'completed'
                   AND d.event_date >= $2 - $3)))
), f AS (
    SELECT f.pathway_id,
           max(f.event_date) FILTER (WHERE f.kind = 'baseline' AND f.status = 'completed') AS baseline_completed,
           array_agg(f.event_date ORDER BY f.event_date)
               FILTER (WHERE f.kind = 'measurement' AND f.status = 'completed') AS measurements,
           max(f.event_date) AS last_form_date,
           bool_or(f.kind = 'follow-up' AND f.status = 'completed') AS follow_up_done
    FROM forms f
    JOIN p ON p.id = f.pathway_id
    GROUP BY f.pathway_id
)
SELECT p.id, p.patient_id, p.start_date, p.treatment_level, p.status,
       f.baseline_completed, f.measurements, f.last_form_date,
       d.event_date AS discharge_date, dd.ending, dd.contact_consent_1y,
       coalesce(f.follow_up_done, false) AS follow_up_done
FROM p
LEFT JOIN f ON f.pathway_id = p.id
LEFT JOIN forms d ON d.pathway_id = p.id AND d.kind = 'discharge' AND d.status = 'completed'
LEFT JOIN discharge_forms dd ON dd.form_id = d.id
