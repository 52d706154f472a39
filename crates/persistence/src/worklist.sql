-- Facts for the worklist of unit $1 on day $2: active pathways owned by the unit, and those
-- it discharged (ending 3 or 4) within the last $3 days (the follow-up window). The facts are
-- columns of `pathways` (migrations worklist_facts, report_facts, current_treatment_level): one
-- index-only scan of `pathways_worklist_level`. The time limits follow the treatment level in force:
-- the latest completed measurement's, else the one the pathway was opened with.
SELECT p.id, p.patient_id, p.start_date, coalesce(p.current_treatment_level, p.treatment_level) AS treatment_level,
       p.status,
       p.anchor_date, p.last_form_date,
       p.discharge_date, p.discharge_ending AS ending, p.discharge_contact_consent_1y AS contact_consent_1y,
       p.follow_up_done
FROM pathways p
WHERE p.unit_id = $1
  AND p.status IN (1, 3, 4)
  AND (p.status = 1 OR p.discharge_date >= $2 - $3)
