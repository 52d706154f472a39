-- Indicator and activity counts for the years $1..$2 (DOMAIN.md §7), as of day $3.
-- One row per (measure, year, unit, legal entity, region, sex, age group) with the numerator
-- (`yes`) and the denominator (`total`). Only completed forms count.
--   $1 first year, $2 last year, $3 today, $4 true = tree as of today (else as on the event's date),
--   $5 baseline due days outpatient, $6 inpatient, $7 treatment levels with inpatient limits,
--   $8 months from discharge to the close of the follow-up window, $9 age-group lower bounds.
-- The unit is the one that registered the event: the form's unit, or for `activity` and
-- `baseline_on_time` the unit that opened the pathway.
WITH first_measurement AS (
    SELECT f.pathway_id, f.unit_id, f.event_date, m.treatment_plan, m.crisis_plan, m.benefit
    FROM forms f
    JOIN measurement_forms m ON m.form_id = f.id
    WHERE f.kind = 'measurement' AND f.status = 'completed'
      AND f.event_date >= make_date($1, 1, 1) AND f.event_date < make_date($2 + 1, 1, 1)
      -- the first completed measurement of the pathway (ties broken by form id)
      AND NOT EXISTS (
          SELECT 1 FROM forms e
          WHERE e.pathway_id = f.pathway_id AND e.kind = 'measurement' AND e.status = 'completed'
            AND (e.event_date < f.event_date OR (e.event_date = f.event_date AND e.id < f.id)))
      -- taken while the pathway was active
      AND NOT EXISTS (
          SELECT 1 FROM forms d
          WHERE d.pathway_id = f.pathway_id AND d.kind = 'discharge' AND d.status = 'completed'
            AND d.event_date < f.event_date)
), discharge AS (
    SELECT f.pathway_id, f.unit_id, f.event_date, d.ending, d.agreed_follow_up, d.contact_consent_1y,
           (f.event_date + make_interval(months => $8))::date AS window_close
    FROM forms f
    JOIN discharge_forms d ON d.form_id = f.id
    WHERE f.kind = 'discharge' AND f.status = 'completed' AND d.ending IN (3, 4)
      AND f.event_date >= make_date($1, 1, 1) - make_interval(months => $8)
      AND f.event_date < make_date($2 + 1, 1, 1)
), events (measure, pathway_id, unit_id, event_date, yes) AS (
    SELECT 'treatment_plan_early', pathway_id, unit_id, event_date, treatment_plan = 1 FROM first_measurement
    UNION ALL
    SELECT 'crisis_plan_early', pathway_id, unit_id, event_date, crisis_plan = 1 FROM first_measurement
    UNION ALL
    SELECT 'large_benefit', pathway_id, unit_id, event_date, benefit IN (4, 5) FROM first_measurement
    UNION ALL
    SELECT 'mutual_ending', pathway_id, unit_id, event_date, ending = 4
    FROM discharge WHERE event_date >= make_date($1, 1, 1)
    UNION ALL
    SELECT 'follow_up_agreed', pathway_id, unit_id, event_date,
           coalesce(agreed_follow_up && ARRAY[1, 2, 3, 4, 5, 6]::smallint[], false)
    FROM discharge WHERE event_date >= make_date($1, 1, 1)
    UNION ALL
    SELECT 'follow_up_reached', d.pathway_id, d.unit_id, d.window_close, coalesce(u.outcome = 5, false)
    FROM discharge d
    LEFT JOIN forms fu ON fu.pathway_id = d.pathway_id AND fu.kind = 'follow-up' AND fu.status = 'completed'
    LEFT JOIN follow_up_forms u ON u.form_id = fu.id
    WHERE d.contact_consent_1y = 1
      AND d.window_close >= make_date($1, 1, 1) AND d.window_close < make_date($2 + 1, 1, 1)
      -- a window still open without a completed follow-up is not yet due: never missing
      AND (d.window_close <= $3 OR fu.id IS NOT NULL)
    UNION ALL
    SELECT 'somatic_assessed', f.pathway_id, f.unit_id, f.event_date, b.somatic_health_assessed = 1
    FROM forms f
    JOIN baseline_forms b ON b.form_id = f.id
    WHERE f.kind = 'baseline' AND f.status = 'completed'
      AND f.event_date >= make_date($1, 1, 1) AND f.event_date < make_date($2 + 1, 1, 1)
    UNION ALL
    SELECT 'baseline_on_time', p.id, p.opened_unit_id, p.start_date, coalesce(b.event_date <= due.d, false)
    FROM pathways p
    CROSS JOIN LATERAL (
        SELECT p.start_date + CASE WHEN p.treatment_level = ANY ($7) THEN $6 ELSE $5 END AS d) due
    LEFT JOIN forms b ON b.pathway_id = p.id AND b.kind = 'baseline' AND b.status = 'completed'
    WHERE p.start_date >= make_date($1, 1, 1) AND p.start_date < make_date($2 + 1, 1, 1)
      -- a baseline not yet due and not done is never missing
      AND (due.d < $3 OR b.id IS NOT NULL)
    UNION ALL
    SELECT 'activity', p.id, p.opened_unit_id, p.start_date, true
    FROM pathways p
    WHERE p.start_date >= make_date($1, 1, 1) AND p.start_date < make_date($2 + 1, 1, 1)
), placed AS (
    SELECT e.measure, e.unit_id, e.yes, pt.sex,
           extract(year FROM e.event_date)::int AS year,
           CASE WHEN $4 THEN $3 ELSE e.event_date END AS tree_date,
           width_bucket(extract(year FROM e.event_date)::int - pt.birth_year, $9) AS age_group
    FROM events e
    JOIN pathways p ON p.id = e.pathway_id
    JOIN patients pt ON pt.id = p.patient_id
)
SELECT x.measure, x.year, x.unit_id, le.parent_id AS entity_id, lr.parent_id AS region_id,
       x.sex, x.age_group::smallint AS age_group,
       count(*) FILTER (WHERE x.yes) AS yes, count(*) AS total
FROM placed x
LEFT JOIN org_links le ON le.child_id = x.unit_id
     AND le.valid_from <= x.tree_date AND (le.valid_to IS NULL OR le.valid_to > x.tree_date)
LEFT JOIN org_links lr ON lr.child_id = le.parent_id
     AND lr.valid_from <= x.tree_date AND (lr.valid_to IS NULL OR lr.valid_to > x.tree_date)
GROUP BY 1, 2, 3, 4, 5, 6, 7
