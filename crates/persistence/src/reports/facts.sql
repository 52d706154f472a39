-- Indicator and activity counts for the years $1..$2 (DOMAIN.md §7), as of day $3.
-- Indicators that share a population share its rows: one row per (population, year, unit, legal
-- entity, region, sex, age group, outcomes o1..o3) with the count `n`, so a release can model
-- the shared denominators as one cell. Only completed forms count.
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
), events (population, pathway_id, unit_id, event_date, o1, o2, o3) AS (
    -- o1..o3: the outcomes of the indicators that share the population (docs/indicators.md):
    -- first_measurement: treatment plan yes, crisis plan yes, benefit 4-5
    SELECT 'first_measurement', pathway_id, unit_id, event_date,
           coalesce(treatment_plan = 1, false), coalesce(crisis_plan = 1, false), coalesce(benefit IN (4, 5), false)
    FROM first_measurement
    UNION ALL
    -- discharge (ending 3 or 4): mutual agreement, any agreed follow-up
    SELECT 'discharge', pathway_id, unit_id, event_date, ending = 4,
           coalesce(agreed_follow_up && ARRAY[1, 2, 3, 4, 5, 6]::smallint[], false), true
    FROM discharge WHERE event_date >= make_date($1, 1, 1)
    UNION ALL
    -- window (follow-up window closing in the year): followed up
    SELECT 'window', d.pathway_id, d.unit_id, d.window_close, coalesce(u.outcome = 5, false), true, true
    FROM discharge d
    LEFT JOIN forms fu ON fu.pathway_id = d.pathway_id AND fu.kind = 'follow-up' AND fu.status = 'completed'
    LEFT JOIN follow_up_forms u ON u.form_id = fu.id
    WHERE d.contact_consent_1y = 1
      AND d.window_close >= make_date($1, 1, 1) AND d.window_close < make_date($2 + 1, 1, 1)
      -- a window still open without a completed follow-up is not yet due: never missing
      AND (d.window_close <= $3 OR fu.id IS NOT NULL)
    UNION ALL
    -- baseline (completed baselines): somatic health assessed
    SELECT 'baseline', f.pathway_id, f.unit_id, f.event_date, coalesce(b.somatic_health_assessed = 1, false), true, true
    FROM forms f
    JOIN baseline_forms b ON b.form_id = f.id
    WHERE f.kind = 'baseline' AND f.status = 'completed'
      AND f.event_date >= make_date($1, 1, 1) AND f.event_date < make_date($2 + 1, 1, 1)
    UNION ALL
    -- started (pathways started, the activity table): baseline on time; baseline due (a baseline
    -- not yet due and not done is never missing: outside baseline_on_time's denominator)
    SELECT 'started', p.id, p.opened_unit_id, p.start_date,
           coalesce(b.event_date <= due.d, false), due.d < $3 OR b.id IS NOT NULL, true
    FROM pathways p
    CROSS JOIN LATERAL (
        SELECT p.start_date + CASE WHEN p.treatment_level = ANY ($7) THEN $6 ELSE $5 END AS d) due
    LEFT JOIN forms b ON b.pathway_id = p.id AND b.kind = 'baseline' AND b.status = 'completed'
    WHERE p.start_date >= make_date($1, 1, 1) AND p.start_date < make_date($2 + 1, 1, 1)
), placed AS (
    SELECT e.population, e.unit_id, e.o1, e.o2, e.o3, pt.sex,
           extract(year FROM e.event_date)::int AS year,
           CASE WHEN $4 THEN $3 ELSE e.event_date END AS tree_date,
           width_bucket(extract(year FROM e.event_date)::int - pt.birth_year, $9) AS age_group
    FROM events e
    JOIN pathways p ON p.id = e.pathway_id
    JOIN patients pt ON pt.id = p.patient_id
)
SELECT x.population, x.year, x.unit_id, le.parent_id AS entity_id, lr.parent_id AS region_id,
       x.sex, x.age_group::smallint AS age_group, x.o1, x.o2, x.o3, count(*) AS n
FROM placed x
LEFT JOIN org_links le ON le.child_id = x.unit_id
     AND le.valid_from <= x.tree_date AND (le.valid_to IS NULL OR le.valid_to > x.tree_date)
LEFT JOIN org_links lr ON lr.child_id = le.parent_id
     AND lr.valid_from <= x.tree_date AND (lr.valid_to IS NULL OR lr.valid_to > x.tree_date)
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
